import Foundation
import LuzTensor

extension Module {
    /// Continues `prompt` with `count` tokens drawn one at a time from this language model (the
    /// loop of nanoGPT's `generate` and char-rnn's `sample`).
    ///
    /// The model maps `int64` tokens `[batch, time]` to next-token scores `[batch, time,
    /// vocabulary]`. At each step it reads the last `contextLength` tokens of the prompt and
    /// what it generated so far as a batch of one; the scores of the last position, divided by
    /// `temperature`, become probabilities `softmax(scores / temperature)`, restricted to the
    /// `topK` most likely tokens when given, from which the next token is drawn with
    /// `generator`. A `temperature` of 0 (or `topK` 1) always takes the most likely token
    /// (the first one on a tie), without drawing.
    ///
    /// The model runs in evaluation mode without gradients and is put back in the mode it was
    /// in. The same generator state gives the same tokens.
    ///
    /// - Parameters:
    ///   - prompt: the tokens to continue, at least one.
    ///   - count: how many tokens to generate.
    ///   - temperature: ≥ 0; below 1 sharpens the distribution, above 1 flattens it (1 by
    ///     default: the model's own probabilities).
    ///   - topK: draw only among the `topK` most likely tokens (all of them when `nil`).
    ///   - contextLength: the most tokens the model sees at once (its position table's length,
    ///     say); all of them when `nil`.
    ///   - generator: the source of the draws.
    /// - Returns: the `count` generated tokens, without the prompt.
    public func generateTokens(continuing prompt: [Int], count: Int, temperature: Double = 1, topK: Int? = nil,
                               contextLength: Int? = nil, generator: Generator) -> [Int] {
        require(!prompt.isEmpty, "\(typeName).generateTokens: the prompt must hold at least one token")
        require(count >= 0, "\(typeName).generateTokens: count must not be negative, got \(count)")
        require(temperature >= 0 && temperature.isFinite,
                "\(typeName).generateTokens: temperature must be finite and ≥ 0, got \(temperature)")
        if let topK { require(topK >= 1, "\(typeName).generateTokens: topK must be at least 1, got \(topK)") }
        if let contextLength {
            require(contextLength >= 1, "\(typeName).generateTokens: contextLength must be at least 1, got \(contextLength)")
        }
        let wasTraining = isTraining
        eval()
        defer { train(wasTraining) }
        var tokens = prompt
        var generated: [Int] = []
        generated.reserveCapacity(count)
        withNoGrad {
            for _ in 0..<count {
                let window = contextLength.map { Array(tokens.suffix($0)) } ?? tokens
                let input = Tensor(window.map(Int64.init), shape: [1, window.count], dtype: .int64)
                let scores = self(input)
                require(scores.rank == 3 && scores.shape[0] == 1 && scores.shape[1] == window.count,
                        "\(typeName).generateTokens: the model should map tokens [1, \(window.count)] to scores [1, \(window.count), vocabulary], got \(scores.shape)")
                let last = scores[0][window.count - 1].to(.float64).scalars(as: Double.self)
                let next = sampleToken(scores: last, temperature: temperature, topK: topK, generator: generator)
                tokens.append(next)
                generated.append(next)
            }
        }
        return generated
    }
}

/// Draws one token from next-token `scores` (the rule of
/// ``Module/generateTokens(continuing:count:temperature:topK:contextLength:generator:)``).
///
/// - Parameters:
///   - scores: one score (logit) per token of the vocabulary.
///   - temperature: ≥ 0; 0 takes the best-scored token (the first on a tie).
///   - topK: draw among the `topK` best-scored tokens only (ties at the cut keep the lower
///     tokens); all when `nil`.
///   - generator: the source of the draw (one uniform number per call, none when greedy).
/// - Returns: a token in `0..<scores.count`.
public func sampleToken(scores: [Double], temperature: Double = 1, topK: Int? = nil, generator: Generator) -> Int {
    require(!scores.isEmpty, "sampleToken: no scores")
    let best = scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) }!
    if temperature == 0 || topK == 1 { return best }
    // The candidates, best first; a stable order keeps the draw reproducible across ties.
    var candidates = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    if let topK, topK < candidates.count { candidates = Array(candidates.prefix(topK)) }
    // softmax(scores / temperature) over the candidates, shifted by the best score for range.
    let top = scores[best]
    let weights = candidates.map { exp((scores[$0] - top) / temperature) }
    let total = weights.reduce(0, +)
    let u = generator.nextDouble() * total
    var cumulative = 0.0
    var last = best
    for (candidate, weight) in zip(candidates, weights) where weight > 0 {
        cumulative += weight
        if u < cumulative { return candidate }
        last = candidate
    }
    // Rounding can leave u just above the last partial sum.
    return last
}
