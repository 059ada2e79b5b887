//! The listening menu (`*93`) as a pure state machine: given the mailbox's messages and
//! each key the caller presses (or that it pressed none), what to say and do next. The
//! driver (`retrieve.rs`) plays, deletes and records; a key pressed while something plays
//! stops it and comes here at once.
//!
//! "You have N new messages", then each message (new ones first, oldest first, then the
//! old ones) followed by the menu: `1` again, `7` delete, `6` or `#` next, `*` back, `0`
//! record the greeting. After the last message, or with none, "goodbye".

/// Something to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Say {
    /// A sound by name (`vm_menu`, `digit_3`, …).
    Sound(&'static str),
    /// A count, digit by digit.
    Number(usize),
}

/// What the driver does, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Do {
    Say(Say),
    /// Play message `id` (and mark it heard).
    Play(u64),
    Delete(u64),
    /// Record the mailbox's greeting (then come back with `greeting_done`).
    RecordGreeting,
    /// Hang up.
    Bye,
}

#[derive(Debug)]
pub struct Menu {
    /// Message ids in listening order, with whether each is still there.
    ids: Vec<(u64, bool)>,
    new: usize,
    at: usize,
    /// Times the caller let the menu pass without a key.
    idle: u32,
}

fn say(s: &'static str) -> Do {
    Do::Say(Say::Sound(s))
}

impl Menu {
    /// `messages`: (id, new, received) of the mailbox.
    pub fn new(messages: &[(u64, bool, u64)]) -> Menu {
        let mut m: Vec<&(u64, bool, u64)> = messages.iter().collect();
        // new first, then by time
        m.sort_by_key(|(id, new, at)| (!new, *at, *id));
        Menu {
            new: messages.iter().filter(|m| m.1).count(),
            ids: m.iter().map(|(id, _, _)| (*id, true)).collect(),
            at: 0,
            idle: 0,
        }
    }

    pub fn start(&mut self) -> Vec<Do> {
        let mut out = if self.new == 0 {
            vec![say("vm_no_messages")]
        } else {
            vec![
                say("vm_you_have"),
                Do::Say(Say::Number(self.new)),
                say("vm_new_messages"),
            ]
        };
        match self.current() {
            Some(id) => out.extend(self.message(id)),
            // nothing to hear: the greeting can still be recorded
            None => out.push(say("vm_empty_menu")),
        }
        out
    }

    /// The mailbox has no message at all.
    fn empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn current(&self) -> Option<u64> {
        self.ids
            .get(self.at)
            .and_then(|(id, there)| there.then_some(*id))
    }

    fn message(&self, id: u64) -> Vec<Do> {
        vec![say("vm_message"), Do::Play(id), say("vm_menu")]
    }

    /// The next message still there after the current one, else goodbye.
    fn next(&mut self) -> Vec<Do> {
        while self.at + 1 < self.ids.len() {
            self.at += 1;
            if let Some(id) = self.current() {
                return self.message(id);
            }
        }
        self.at = self.ids.len();
        vec![say("vm_no_more"), say("vm_goodbye"), Do::Bye]
    }

    pub fn key(&mut self, k: char) -> Vec<Do> {
        self.idle = 0;
        if self.empty() && k == '0' {
            return vec![Do::RecordGreeting];
        }
        let Some(id) = self.current() else {
            return vec![say("vm_goodbye"), Do::Bye];
        };
        match k {
            '1' => self.message(id),
            '7' => {
                self.ids[self.at].1 = false;
                let mut out = vec![Do::Delete(id), say("vm_deleted")];
                out.extend(self.next());
                out
            }
            '6' | '#' => self.next(),
            '*' => {
                let back = (0..self.at).rev().find(|&i| self.ids[i].1);
                if let Some(i) = back {
                    self.at = i;
                }
                let id = self.current().unwrap_or(id);
                self.message(id)
            }
            '0' => vec![Do::RecordGreeting],
            _ => vec![say("vm_menu")],
        }
    }

    /// Back from recording the greeting.
    pub fn greeting_done(&mut self) -> Vec<Do> {
        if self.empty() {
            return vec![say("vm_greeting_saved"), say("vm_goodbye"), Do::Bye];
        }
        vec![say("vm_greeting_saved"), say("vm_menu")]
    }

    /// The caller pressed nothing after the menu: it is said once more, then goodbye.
    pub fn no_key(&mut self) -> Vec<Do> {
        self.idle += 1;
        if self.idle >= 2 {
            vec![say("vm_goodbye"), Do::Bye]
        } else if self.empty() {
            vec![say("vm_empty_menu")]
        } else {
            vec![say("vm_menu")]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sounds(d: &[Do]) -> Vec<String> {
        d.iter()
            .map(|x| match x {
                Do::Say(Say::Sound(s)) => s.to_string(),
                Do::Say(Say::Number(n)) => format!("#{}", n),
                Do::Play(id) => format!("play {}", id),
                Do::Delete(id) => format!("delete {}", id),
                Do::RecordGreeting => "record".into(),
                Do::Bye => "bye".into(),
            })
            .collect()
    }

    #[test]
    fn new_messages_first_then_delete_and_walk() {
        // 3 old (heard), 1 and 2 new: 1 then 2 then 3
        let mut m = Menu::new(&[(3, false, 10), (2, true, 30), (1, true, 20)]);
        assert_eq!(
            sounds(&m.start()),
            [
                "vm_you_have",
                "#2",
                "vm_new_messages",
                "vm_message",
                "play 1",
                "vm_menu"
            ]
        );
        assert_eq!(sounds(&m.key('1')), ["vm_message", "play 1", "vm_menu"]);
        assert_eq!(
            sounds(&m.key('7')),
            ["delete 1", "vm_deleted", "vm_message", "play 2", "vm_menu"]
        );
        assert_eq!(sounds(&m.key('#')), ["vm_message", "play 3", "vm_menu"]);
        // back skips the deleted one
        assert_eq!(sounds(&m.key('*')), ["vm_message", "play 2", "vm_menu"]);
        assert_eq!(sounds(&m.key('6')), ["vm_message", "play 3", "vm_menu"]);
        assert_eq!(sounds(&m.key('6')), ["vm_no_more", "vm_goodbye", "bye"]);
    }

    #[test]
    fn an_empty_mailbox_says_so_and_offers_the_greeting() {
        let mut m = Menu::new(&[]);
        assert_eq!(sounds(&m.start()), ["vm_no_messages", "vm_empty_menu"]);
        assert_eq!(sounds(&m.no_key()), ["vm_empty_menu"]);
        assert_eq!(sounds(&m.key('0')), ["record"]);
        assert_eq!(
            sounds(&m.greeting_done()),
            ["vm_greeting_saved", "vm_goodbye", "bye"]
        );
        let mut m = Menu::new(&[]);
        m.start();
        assert_eq!(sounds(&m.key('5')), ["vm_goodbye", "bye"]);
        let mut m = Menu::new(&[]);
        m.start();
        m.no_key();
        assert_eq!(sounds(&m.no_key()), ["vm_goodbye", "bye"]);
        let mut m = Menu::new(&[(5, false, 1)]);
        assert_eq!(
            sounds(&m.start()),
            ["vm_no_messages", "vm_message", "play 5", "vm_menu"]
        );
    }

    #[test]
    fn deleting_the_last_message_ends_and_idle_callers_are_let_go() {
        let mut m = Menu::new(&[(1, true, 1)]);
        m.start();
        assert_eq!(
            sounds(&m.key('7')),
            ["delete 1", "vm_deleted", "vm_no_more", "vm_goodbye", "bye"]
        );
        let mut m = Menu::new(&[(1, true, 1)]);
        m.start();
        assert_eq!(sounds(&m.no_key()), ["vm_menu"]);
        assert_eq!(sounds(&m.no_key()), ["vm_goodbye", "bye"]);
        let mut m = Menu::new(&[(1, true, 1)]);
        m.start();
        assert_eq!(sounds(&m.key('0')), ["record"]);
        assert_eq!(sounds(&m.greeting_done()), ["vm_greeting_saved", "vm_menu"]);
        assert_eq!(sounds(&m.key('9')), ["vm_menu"]);
    }
}
