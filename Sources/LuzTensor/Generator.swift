/// A seedable source of random numbers (xoshiro256** seeded through SplitMix64).
///
/// The same seed gives the same numbers on every run and machine: the generator is pure integer
/// arithmetic, and every distribution is derived from it in a fixed order. A generator is a
/// reference type so that a data loader, a dropout layer and a training run can share one.
/// It is safe to use from several threads (draws are serialized).
public final class Generator: @unchecked Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var spareNormal: Double?
    private let lock = Mutex()

    /// The seed last given to this generator.
    public private(set) var seed: UInt64

    /// Creates a generator seeded with `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        reseed(seed)
    }

    /// Restarts the sequence from `seed` (torch's `manual_seed`).
    public func manualSeed(_ seed: UInt64) {
        lock.withLock {
            self.seed = seed
            reseed(seed)
        }
    }

    private func reseed(_ seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(), splitMix(), splitMix(), splitMix())
        spareNormal = nil
    }

    /// The complete internal state, for checkpoints: restoring it continues the same sequence.
    public var stateWords: [UInt64] {
        get {
            lock.withLock {
                [state.0, state.1, state.2, state.3, seed,
                 spareNormal.map { $0.bitPattern } ?? 0, spareNormal == nil ? 0 : 1]
            }
        }
        set {
            require(newValue.count == 7, "Generator.stateWords: expected 7 words, got \(newValue.count)")
            lock.withLock {
                state = (newValue[0], newValue[1], newValue[2], newValue[3])
                seed = newValue[4]
                spareNormal = newValue[6] == 1 ? Double(bitPattern: newValue[5]) : nil
            }
        }
    }

    /// Why `words` cannot be restored as a generator's ``stateWords``, or `nil` when they can.
    ///
    /// A checkpoint is read back from disk, where a damaged or hand-edited file can hold any
    /// words: xoshiro's all-zero state gives zeros forever (a normal sample then never leaves
    /// its rejection loop), and a cached normal must be a finite number.
    public static func problem(withStateWords words: [UInt64]) -> String? {
        guard words.count == 7 else { return "\(words.count) words, not 7" }
        if words[0...3].allSatisfy({ $0 == 0 }) { return "an all-zero state, which only ever yields zeros" }
        switch words[6] {
        case 0: return words[5] == 0 ? nil : "a cached normal sample without its flag"
        case 1: return Double(bitPattern: words[5]).isFinite ? nil : "a cached normal sample that is not finite"
        default: return "a cached-sample flag of \(words[6]), not 0 or 1"
        }
    }


    private func nextUnlocked() -> UInt64 {
        var words = XoshiroState(state)
        let result = words.next()
        state = words.tuple
        return result
    }

    @inline(__always)
    private func uniformUnlocked() -> Double { Double(nextUnlocked() >> 11) * 0x1.0p-53 }

    private func normalUnlocked() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        // Box–Muller on (0, 1] × [0, 1): u1 is never 0, so the log is finite.
        let u1 = 1.0 - uniformUnlocked()
        let u2 = uniformUnlocked()
        let radius = (-2.0 * Double.luzLog(u1)).squareRoot()
        let angle = 2.0 * Double.pi * u2
        spareNormal = radius * Double.luzSin(angle)
        return radius * Double.luzCos(angle)
    }

    /// The next 64 random bits.
    public func nextUInt64() -> UInt64 { lock.withLock { nextUnlocked() } }

    /// A uniform draw from [0, 1).
    public func nextDouble() -> Double { lock.withLock { uniformUnlocked() } }

    /// A standard normal draw.
    public func nextNormal() -> Double { lock.withLock { normalUnlocked() } }

    /// A uniform integer in `0..<bound` without modulo bias.
    public func nextInt(below bound: Int) -> Int { lock.withLock { intUnlocked(below: bound) } }

    private func intUnlocked(below bound: Int) -> Int {
        require(bound > 0, "Generator.nextInt: bound must be positive, got \(bound)")
        let b = UInt64(bound)
        let threshold = (0 &- b) % b
        while true {
            let r = nextUnlocked()
            let product = r.multipliedFullWidth(by: b)
            if product.low >= threshold { return Int(product.high) }
        }
    }

    /// Fills a buffer with uniform draws from [0, 1), holding the lock once.
    ///
    /// The state is copied into a local for the loop: a stored property of a class is checked
    /// for exclusive access on every read and write, which would cost more than the generator.
    @inline(__always)
    func fillUniform(_ count: Int, _ write: (Int, Double) -> Void) {
        lock.withLock {
            var words = XoshiroState(state)
            for i in 0..<count { write(i, Double(words.next() >> 11) * 0x1.0p-53) }
            state = words.tuple
        }
    }

    /// Runs `body` with the generator's state as a local value, holding the lock: the fastest
    /// way to draw many numbers in a loop. The state advances by what `body` draws.
    @inline(__always)
    func withStream<R>(_ body: (inout XoshiroState) -> R) -> R {
        lock.withLock {
            var words = XoshiroState(state)
            let result = body(&words)
            state = words.tuple
            return result
        }
    }

    /// Fills a buffer with standard normal draws, holding the lock once.
    func fillNormal(_ count: Int, _ write: (Int, Double) -> Void) {
        lock.withLock { for i in 0..<count { write(i, normalUnlocked()) } }
    }

    /// Fills a buffer with uniform integers in `0..<bound`, holding the lock once.
    func fillInt(_ count: Int, below bound: Int, _ write: (Int, Int) -> Void) {
        lock.withLock { for i in 0..<count { write(i, intUnlocked(below: bound)) } }
    }

    /// A draw from the Gamma distribution of shape `shape` and scale 1 (mean and variance
    /// `shape`), by Marsaglia and Tsang's squeeze method (2000).
    ///
    /// A shape below 1 draws Gamma(shape + 1) and multiplies by `u^(1/shape)`, the boost the
    /// paper gives; that product underflows to 0 for tiny shapes, which ``nextBeta(_:_:)``
    /// avoids by working with logarithms.
    /// - Parameter shape: the shape `k > 0`.
    public func nextGamma(shape: Double) -> Double {
        require(shape > 0 && shape.isFinite, "Generator.nextGamma: the shape must be positive and finite, got \(shape)")
        return lock.withLock { Double.luzExp(logGammaUnlocked(shape)) }
    }

    /// A draw from the Beta distribution `Beta(a, b)` on [0, 1] (mean `a / (a + b)`), as
    /// `X / (X + Y)` for independent `X ~ Gamma(a)` and `Y ~ Gamma(b)`: what mixup draws its
    /// mixing weights from (`Beta(α, α)`).
    /// - Parameters:
    ///   - a: the first shape, positive.
    ///   - b: the second shape, positive.
    public func nextBeta(_ a: Double, _ b: Double) -> Double {
        require(a > 0 && b > 0 && a.isFinite && b.isFinite,
                "Generator.nextBeta: the shapes must be positive and finite, got \(a) and \(b)")
        return lock.withLock {
            // X / (X + Y) = 1 / (1 + exp(log Y - log X)): finite even when both underflow.
            let logX = logGammaUnlocked(a)
            let logY = logGammaUnlocked(b)
            return 1 / (1 + Double.luzExp(logY - logX))
        }
    }

    /// The logarithm of a Gamma(shape) draw (Marsaglia–Tsang).
    private func logGammaUnlocked(_ shape: Double) -> Double {
        if shape < 1 {
            // Gamma(k) = Gamma(k + 1) · U^(1/k); in logs the product cannot underflow.
            let boost = Double.luzLog(1 - uniformUnlocked()) / shape
            return logGammaUnlocked(shape + 1) + boost
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            let x = normalUnlocked()
            let root = 1 + c * x
            guard root > 0 else { continue }
            let v = root * root * root
            let u = 1 - uniformUnlocked()   // (0, 1]: its log is finite
            let x2 = x * x
            if u < 1 - 0.0331 * x2 * x2 || Double.luzLog(u) < 0.5 * x2 + d * (1 - v + Double.luzLog(v)) {
                return Double.luzLog(d) + Double.luzLog(v)
            }
        }
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public func permutation(_ n: Int) -> [Int] {
        var values = Array(0..<n)
        lock.withLock {
            if n > 1 {
                for i in stride(from: n - 1, to: 0, by: -1) {
                    values.swapAt(i, intUnlocked(below: i + 1))
                }
            }
        }
        return values
    }

    /// The generator used when none is passed. Its initial seed is fixed, so programs are
    /// reproducible even without `manualSeed` (as in PyTorch).
    public static let `default` = Generator(seed: 67_280_421_310_721)
}

/// Seeds the default generator (torch's `torch_manual_seed`).
public func manualSeed(_ seed: UInt64) {
    Generator.default.manualSeed(seed)
}

/// The four words of xoshiro256** as a value, so that a loop drawing many numbers keeps them in
/// registers.
struct XoshiroState {
    var s0, s1, s2, s3: UInt64

    @inline(__always)
    init(_ tuple: (UInt64, UInt64, UInt64, UInt64)) { (s0, s1, s2, s3) = tuple }

    var tuple: (UInt64, UInt64, UInt64, UInt64) { (s0, s1, s2, s3) }

    @inline(__always)
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform draw from [0, 1) with 53 random bits.
    @inline(__always)
    mutating func nextUniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// The next 64 bits (xoshiro256**).
    @inline(__always)
    mutating func next() -> UInt64 {
        let result = XoshiroState.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = XoshiroState.rotl(s3, 45)
        return result
    }
}
