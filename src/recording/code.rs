//! The on-demand recording code pressed during a call (`*` + the client's
//! `recording_code`), per party, as a pure rule over its keys and when they came: keys
//! more than 3 s apart start over.

/// Milliseconds between two keys of one code at most.
const GAP_MS: u64 = 3000;

#[derive(Debug)]
pub struct CodeWatch {
    /// `*` and the code.
    code: String,
    typed: [String; 2],
    last: [u64; 2],
}

impl CodeWatch {
    pub fn new(code: &str) -> CodeWatch {
        CodeWatch {
            code: format!("*{}", code),
            typed: Default::default(),
            last: [0; 2],
        }
    }

    /// Party `caller` (or the callee) pressed `k` at `at_ms`: whether that completed the
    /// code.
    pub fn key(&mut self, caller: bool, k: char, at_ms: u64) -> bool {
        let i = usize::from(!caller);
        if at_ms.saturating_sub(self.last[i]) > GAP_MS {
            self.typed[i].clear();
        }
        self.last[i] = at_ms;
        if k == '*' {
            self.typed[i].clear();
        }
        self.typed[i].push(k);
        if !self.code.starts_with(self.typed[i].as_str()) {
            self.typed[i].clear();
            return false;
        }
        if self.typed[i] == self.code {
            self.typed[i].clear();
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_and_the_code_toggle_each_party_on_its_own() {
        let mut w = CodeWatch::new("5");
        assert!(!w.key(true, '*', 1000));
        assert!(w.key(true, '5', 1200));
        // the callee's keys are its own
        assert!(!w.key(false, '5', 1300));
        assert!(!w.key(false, '*', 1400));
        assert!(w.key(false, '5', 1500));
        // too slow: starts over
        assert!(!w.key(true, '*', 2000));
        assert!(!w.key(true, '5', 6000));
        // a wrong key in between
        assert!(!w.key(true, '*', 7000));
        assert!(!w.key(true, '1', 7100));
        assert!(!w.key(true, '5', 7200));
        // a longer code
        let mut w = CodeWatch::new("123");
        for (k, at) in [('*', 0), ('1', 100), ('2', 200)] {
            assert!(!w.key(true, k, at));
        }
        assert!(w.key(true, '3', 300));
    }
}
