/* vozbox's kernel fast path for the RTP relay (`[media] kernel_forwarding`).
 *
 * A TC ingress program: a UDP packet whose (destination, source) is a relay socket and
 * the party latched on it is rewritten to leave from the other side's relay socket to
 * that side's party, and goes out without reaching user space. IPv4 and IPv6 (a map
 * each). Every other packet is
 * left alone and goes on to the next program or the socket (TCX_NEXT): the forwarding
 * threads handle it as before (learning, strangers, recording, RTCP short packets).
 *
 * The rules are written by src/media/fastpath.rs, only for sessions whose both parties
 * are settled (connected sockets), and taken out when anything about them changes.
 * Attached as a TCX link (Linux 6.6 and later), which the kernel removes when vozbox
 * exits, however it exits.
 *
 * Built with `clang -O2 -target bpf -c bpf/relay.c -o src/media/relay.bpf.o` (clang 14,
 * Debian 12); the object is embedded in the binary and `tests/bpf_object.rs` checks that
 * it is this file's. No kernel headers: the few definitions needed are below.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

/* The first fields of the kernel's `struct __sk_buff`, in its order. */
struct __sk_buff {
	u32 len, pkt_type, mark, queue_mapping, protocol, vlan_present, vlan_tci, vlan_proto;
	u32 priority, ingress_ifindex, ifindex, tc_index, cb[5], hash, tc_classid;
	u32 data, data_end;
};

struct map_def { u32 type, key_size, value_size, max_entries, map_flags; };

/* A relay socket and its party, as the packet shows them (network byte order). */
struct key {
	u32 daddr, saddr;
	u16 dport, sport;
};

/* Where such a packet goes, and what went. */
struct rule {
	u32 saddr, daddr;
	u16 sport, dport;
	u32 oif;      /* the interface towards `daddr`; 1 (loopback): `daddr` is local */
	u32 min_len;  /* the shortest payload relayed (12 for RTP, 8 for RTCP) */
	u32 next_hop; /* the route's gateway towards `daddr`, or `daddr` on a link */
	u64 packets, bytes, last_ns;
};

/* The same for IPv6. */
struct key6 {
	u32 daddr[4], saddr[4];
	u16 dport, sport;
};

struct rule6 {
	u32 saddr[4], daddr[4];
	u16 sport, dport;
	u32 oif, min_len;
	u32 next_hop[4];
	u64 packets, bytes, last_ns;
};

/* BPF_MAP_TYPE_HASH */
__attribute__((section("maps"), used)) struct map_def RULES = {
	1, sizeof(struct key), sizeof(struct rule), 65536, 0
};
__attribute__((section("maps"), used)) struct map_def RULES6 = {
	1, sizeof(struct key6), sizeof(struct rule6), 65536, 0
};

static void *(*map_lookup)(void *map, const void *key) = (void *)1;
static long (*store_bytes)(struct __sk_buff *, u32, const void *, u32, u64) = (void *)9;
static long (*l3_csum)(struct __sk_buff *, u32, u64, u64, u64) = (void *)10;
static long (*l4_csum)(struct __sk_buff *, u32, u64, u64, u64) = (void *)11;
static long long (*csum_diff)(void *, u32, void *, u32, u32) = (void *)28;
static long (*redirect_neigh)(u32, void *, int, u64) = (void *)152;
static u64 (*ktime_ns)(void) = (void *)160; /* bpf_ktime_get_coarse_ns */

/* The kernel's `struct bpf_redir_neigh`: the next hop, so that it does no route lookup
 * of its own (which would not see the policy rules the route was asked with). */
struct redir_neigh {
	u32 family;
	u32 addr[4];
};
#define AF_INET 2
#define AF_INET6 10

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TCX_NEXT -1
#define ETH 14
#define IP_CHECK (ETH + 10)
#define IP_SADDR (ETH + 12)
#define IP_DADDR (ETH + 16)
#define UDP (ETH + 20)
#define UDP_CHECK (UDP + 6)
#define IP6_SADDR (ETH + 8)
#define IP6_DADDR (ETH + 24)
#define UDP6 (ETH + 40)
#define UDP6_CHECK (UDP6 + 6)
#define PSEUDO_HDR (1ULL << 4)
#define MANGLED_0 (1ULL << 5)
#define LOOPBACK 1

/* Counts a forwarded packet of `len` payload bytes in a rule's counters. */
#define COUNT(r, len)                                  \
	do {                                           \
		__sync_fetch_and_add(&(r)->packets, 1);  \
		__sync_fetch_and_add(&(r)->bytes, len);  \
		(r)->last_ns = ktime_ns();             \
	} while (0)

/* An IPv6 packet (`data`: its Ethernet header; no extension header, UDP). */
static __attribute__((always_inline)) int relay6(struct __sk_buff *skb, u8 *data, u8 *end)
{
	if (data + UDP6 + 8 + 1 > end)
		return TCX_NEXT;
	if ((data[ETH] >> 4) != 6 || data[ETH + 6] != 17)
		return TCX_NEXT;
	if ((data[UDP6 + 8] >> 6) != 2)
		return TCX_NEXT;
	/* a zero UDP checksum (invalid in IPv6) is left to the stack, which drops it */
	if (!data[UDP6_CHECK] && !data[UDP6_CHECK + 1])
		return TCX_NEXT;
	struct key6 k;
	__builtin_memcpy(k.daddr, data + IP6_DADDR, 16);
	__builtin_memcpy(k.saddr, data + IP6_SADDR, 16);
	k.dport = *(u16 *)(data + UDP6 + 2);
	k.sport = *(u16 *)(data + UDP6);
	u32 udp_len = ((u32)data[UDP6 + 4] << 8) | data[UDP6 + 5];
	/* one datagram, whole: the payload length and the frame's agree with UDP's (a GRO
	 * aggregate or a truncated packet goes on to the stack) */
	u32 payload_len = ((u32)data[ETH + 4] << 8) | data[ETH + 5];
	if (payload_len != udp_len || skb->len != UDP6 + udp_len)
		return TCX_NEXT;
	struct rule6 *r = map_lookup(&RULES6, &k);
	if (!r || udp_len < 8 + r->min_len)
		return TCX_NEXT;
	u32 oif = r->oif;
	if (oif == LOOPBACK && skb->ingress_ifindex != LOOPBACK)
		return TCX_NEXT;
	struct rule6 w;
	__builtin_memcpy(w.saddr, r->saddr, 16);
	__builtin_memcpy(w.daddr, r->daddr, 16);
	w.sport = r->sport;
	w.dport = r->dport;
	u8 hop_limit = 64;
	/* the pseudo-header's two addresses (the key's destination and source, the
	 * rule's source and destination: a one's complement sum has no order), as one
	 * difference (IPv6 has no header
	 * checksum of its own) */
	long long diff = csum_diff(k.daddr, 32, w.saddr, 32, 0);
	if (diff < 0)
		return TC_ACT_SHOT;
	if (l4_csum(skb, UDP6_CHECK, 0, diff, PSEUDO_HDR | MANGLED_0) ||
	    l4_csum(skb, UDP6_CHECK, k.sport, w.sport, MANGLED_0 | 2) ||
	    l4_csum(skb, UDP6_CHECK, k.dport, w.dport, MANGLED_0 | 2) ||
	    /* (BPF_F_RECOMPUTE_CSUM: a CHECKSUM_COMPLETE packet's sum follows the new
	     * addresses; the pseudo-header update above took them out of it, which is
	     * right for IPv4, whose header checksum changes too, not for IPv6) */
	    store_bytes(skb, IP6_SADDR, w.saddr, 32, 1) ||
	    store_bytes(skb, UDP6, &w.sport, 4, 0) ||
	    /* the relay's own hop limit, as its sockets would send with */
	    store_bytes(skb, ETH + 7, &hop_limit, 1, 0))
		return TC_ACT_SHOT;
	COUNT(r, udp_len - 8);
	if (oif == LOOPBACK)
		return TC_ACT_OK;
	struct redir_neigh nh = { AF_INET6, { 0, 0, 0, 0 } };
	__builtin_memcpy(nh.addr, r->next_hop, 16);
	return redirect_neigh(oif, &nh, sizeof(nh), 0);
}

__attribute__((section("classifier"), used)) int relay(struct __sk_buff *skb)
{
	/* A VLAN's packet seen on its parent device (its tag already taken out into the
	 * packet's metadata) is left to the VLAN device's own hook: sent elsewhere, it
	 * would keep the tag. */
	if (skb->vlan_present)
		return TCX_NEXT;
	u8 *data = (u8 *)(long)skb->data, *end = (u8 *)(long)skb->data_end;
	if (data + ETH > end)
		return TCX_NEXT;
	if (data[12] == 0x86 && data[13] == 0xdd)
		return relay6(skb, data, end);
	/* Ethernet, IPv4 without options, not a fragment, UDP, a first RTP/RTCP byte */
	if (data + UDP + 8 + 1 > end)
		return TCX_NEXT;
	if (data[12] != 0x08 || data[13] != 0x00)
		return TCX_NEXT;
	if (data[ETH] != 0x45 || data[ETH + 9] != 17 || (data[ETH + 6] & 0x3f) || data[ETH + 7])
		return TCX_NEXT;
	if ((data[UDP + 8] >> 6) != 2)
		return TCX_NEXT;
	struct key k;
	k.daddr = *(u32 *)(data + IP_DADDR);
	k.saddr = *(u32 *)(data + IP_SADDR);
	k.dport = *(u16 *)(data + UDP + 2);
	k.sport = *(u16 *)(data + UDP);
	u32 udp_len = ((u32)data[UDP + 4] << 8) | data[UDP + 5];
	struct rule *r = map_lookup(&RULES, &k);
	if (!r || udp_len < 8 + r->min_len)
		return TCX_NEXT;
	u32 saddr = r->saddr, daddr = r->daddr;
	u16 sport = r->sport, dport = r->dport;

	u32 oif = r->oif;
	/* A local party is reached by passing the packet up, which only a packet that
	 * came in on loopback may do (from another interface its new source, the relay's
	 * own address, would be a martian). */
	if (oif == LOOPBACK && skb->ingress_ifindex != LOOPBACK)
		return TCX_NEXT;

	/* (a helper that fails leaves the packet half rewritten: it is dropped, never
	 * sent on like that) */
	if (l4_csum(skb, UDP_CHECK, k.saddr, saddr, PSEUDO_HDR | MANGLED_0 | 4) ||
	    l4_csum(skb, UDP_CHECK, k.daddr, daddr, PSEUDO_HDR | MANGLED_0 | 4) ||
	    l4_csum(skb, UDP_CHECK, k.sport, sport, MANGLED_0 | 2) ||
	    l4_csum(skb, UDP_CHECK, k.dport, dport, MANGLED_0 | 2) ||
	    l3_csum(skb, IP_CHECK, k.saddr, saddr, 4) ||
	    l3_csum(skb, IP_CHECK, k.daddr, daddr, 4) ||
	    store_bytes(skb, IP_SADDR, &saddr, 4, 0) ||
	    store_bytes(skb, IP_DADDR, &daddr, 4, 0) ||
	    store_bytes(skb, UDP, &sport, 2, 0) ||
	    store_bytes(skb, UDP + 2, &dport, 2, 0))
		return TC_ACT_SHOT;
	COUNT(r, udp_len - 8);
	if (oif == LOOPBACK)
		return TC_ACT_OK;
	/* out of `oif` to the next hop user space asked the kernel's routes for (its
	 * neighbour not resolved yet is resolved, the packet queued meanwhile) */
	struct redir_neigh nh = { AF_INET, { r->next_hop, 0, 0, 0 } };
	return redirect_neigh(oif, &nh, sizeof(nh), 0);
}

char _license[] __attribute__((section("license"), used)) = "GPL";
