//! A small seeded random number generator that every part of the prelude shares.
//!
//! Why our own: a notebook that says `seed = 42` must give the same split, the same
//! augmentation and the same initial weights next year. `rand`'s `StdRng` may change its
//! algorithm between versions; SplitMix64 (seeding) and xoshiro256++ (the stream) are fixed
//! here, so results only change when this file does.

/// A seeded xoshiro256++ generator.
///
/// ```
/// use trainbook::random::Rng;
/// let mut a = Rng::new(7);
/// let mut b = Rng::new(7);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let x = a.uniform();
/// assert!((0.0..1.0).contains(&x));
/// ```
#[derive(Clone, Debug)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// A generator whose whole stream is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            state: [next(), next(), next(), next()],
        }
    }

    /// An independent generator for sub-task `stream` (a fold, an epoch, a sample), so that
    /// sub-task i gets the same numbers however many others ran before it.
    ///
    /// ```
    /// use trainbook::random::Rng;
    /// let base = Rng::new(1);
    /// assert_eq!(base.fork(3).next_u64(), Rng::new(1).fork(3).next_u64());
    /// assert_ne!(base.fork(3).next_u64(), base.fork(4).next_u64());
    /// ```
    pub fn fork(&self, stream: u64) -> Rng {
        Rng::new(
            self.state[0]
                ^ self.state[2].rotate_left(17)
                ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03),
        )
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in [low, high).
    ///
    /// ```
    /// let x = trainbook::random::Rng::new(0).uniform_range(-2.0, 3.0);
    /// assert!((-2.0..3.0).contains(&x));
    /// ```
    pub fn uniform_range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }

    /// A uniform integer in 0..n (n > 0), without modulo bias.
    ///
    /// ```
    /// assert!(trainbook::random::Rng::new(0).below(10) < 10);
    /// ```
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "Rng::below(0): the range is empty");
        let n = n as u64;
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let x = self.next_u64();
            if x < zone {
                return (x % n) as usize;
            }
        }
    }

    /// A standard normal sample (Box-Muller).
    ///
    /// ```
    /// let mut rng = trainbook::random::Rng::new(3);
    /// let mean = (0..10_000).map(|_| rng.normal()).sum::<f64>() / 10_000.0;
    /// assert!(mean.abs() < 0.05);
    /// ```
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]: ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Shuffles in place (Fisher-Yates).
    ///
    /// ```
    /// let mut v: Vec<usize> = (0..10).collect();
    /// trainbook::random::Rng::new(1).shuffle(&mut v);
    /// v.sort();
    /// assert_eq!(v, (0..10).collect::<Vec<_>>());
    /// ```
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// 0..n in a random order.
    ///
    /// ```
    /// assert_eq!(trainbook::random::Rng::new(5).permutation(4).len(), 4);
    /// ```
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        self.shuffle(&mut order);
        order
    }
}
