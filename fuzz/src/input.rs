//! Decoding fuzz bytes into bounded choices.

/// A reader over the fuzz input that never fails: past the end every read is zero, so every
/// byte string decodes to some case and short inputs give the simplest ones.
pub struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, pos: 0 }
    }

    /// The next byte (0 past the end).
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    /// How many input bytes are left unread.
    pub fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    /// The next 8 bytes as a little-endian `u64`.
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |acc, i| acc | (u64::from(self.u8()) << (8 * i)))
    }

    /// A value in `0..n` (0 when `n` is 0 or 1).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 {
            return 0;
        }
        let v = if n <= 256 {
            usize::from(self.u8())
        } else {
            usize::from(self.u8()) | (usize::from(self.u8()) << 8)
        };
        v % n
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// A boolean.
    pub fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// True with probability about `1 / n`.
    pub fn one_in(&mut self, n: u8) -> bool {
        self.u8().is_multiple_of(n)
    }

    /// A size drawn to hit the edges of `usize` arithmetic: small values, powers of two and
    /// their neighbours, values near `isize::MAX` and `usize::MAX`, or any 64-bit value.
    pub fn wild_size(&mut self) -> usize {
        let raw = self.u64() as usize;
        match self.u8() % 8 {
            0 | 1 => raw % 8,
            2 => raw % 100_000,
            3 => {
                let p = 1usize << (raw % 64);
                match (raw >> 8) % 3 {
                    0 => p,
                    1 => p - 1,
                    _ => p.wrapping_add(1),
                }
            }
            4 => (isize::MAX as usize).wrapping_sub(raw % 4),
            5 => usize::MAX - raw % 4,
            6 => (isize::MAX as usize / 2).wrapping_sub(raw % 4),
            _ => raw,
        }
    }

    /// A short string: one of the names the parsers accept, a near miss, or random bytes.
    pub fn name(&mut self, known: &[&str]) -> String {
        match self.u8() % 4 {
            0 | 1 => known[self.below(known.len())].to_string(),
            2 => known[self.below(known.len())].to_uppercase(),
            _ => {
                let len = self.below(12);
                let bytes: Vec<u8> = (0..len).map(|_| self.u8()).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
        }
    }
}
