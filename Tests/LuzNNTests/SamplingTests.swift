import LuzNN
import LuzTensor
import Testing

/// A fixed "language model" over `vocabulary` tokens: at every position it scores token
/// `(t + 1) mod vocabulary` `margin` above the others, where `t` is the token there.
final class NextTokenModel: Module {
    let vocabulary: Int
    let margin: Double
    var calls: [[Int]] = []

    init(vocabulary: Int, margin: Double) {
        self.vocabulary = vocabulary
        self.margin = margin
        super.init()
    }

    override func forward(_ tokens: Tensor) -> Tensor {
        let values = tokens.scalars(as: Int64.self).map(Int.init)
        calls.append(values)
        var scores: [Float] = []
        for token in values {
            for candidate in 0..<vocabulary {
                scores.append(candidate == (token + 1) % vocabulary ? Float(margin) : 0)
            }
        }
        return Tensor(scores, shape: tokens.shape + [vocabulary])
    }
}

@Suite("sampling from a language model")
struct SamplingTests {
    @Test("greedy and low-temperature sampling follow the model's favourite; top-k 1 is greedy")
    func greedy() {
        let model = NextTokenModel(vocabulary: 7, margin: 3)
        let expected = [5, 6, 0, 1, 2, 3, 4, 5, 6, 0]
        #expect(model.generateTokens(continuing: [2, 4], count: 10, temperature: 0, generator: Generator(seed: 1)) == expected)
        #expect(model.generateTokens(continuing: [2, 4], count: 10, temperature: 0.05, generator: Generator(seed: 1)) == expected)
        #expect(model.generateTokens(continuing: [2, 4], count: 10, temperature: 1, topK: 1, generator: Generator(seed: 9)) == expected)
        #expect(model.generateTokens(continuing: [2, 4], count: 0, generator: Generator(seed: 1)).isEmpty)
    }

    @Test("same seed, same tokens; another seed, other tokens; every draw is a token of the vocabulary")
    func seeds() {
        // A margin of 1 leaves the favourite about 31 % of the probability over 7 tokens.
        let model = NextTokenModel(vocabulary: 7, margin: 1)
        let first = model.generateTokens(continuing: [0], count: 40, generator: Generator(seed: 11))
        let again = model.generateTokens(continuing: [0], count: 40, generator: Generator(seed: 11))
        let other = model.generateTokens(continuing: [0], count: 40, generator: Generator(seed: 12))
        #expect(first == again)
        #expect(first != other)
        #expect(first.allSatisfy { (0..<7).contains($0) })
        // At temperature 1 it does not always follow the favourite, but more often than chance.
        let followed = zip([0] + first, first).filter { ($0.0 + 1) % 7 == $0.1 }.count
        #expect(followed < 40 && followed > 40 / 7)
    }

    @Test("top-k keeps the draws among the k best tokens")
    func topK() {
        // Scores 0, 1, 2, …: the two best are the last two.
        let scores = (0..<8).map(Double.init)
        let generator = Generator(seed: 3)
        let draws = (0..<200).map { _ in sampleToken(scores: scores, temperature: 2, topK: 2, generator: generator) }
        #expect(Set(draws) == [6, 7])
        let all = (0..<400).map { _ in sampleToken(scores: scores, temperature: 100, generator: generator) }
        #expect(Set(all).count == 8)
        #expect(sampleToken(scores: [1, 3, 3, 0], temperature: 0, generator: generator) == 1)
    }

    @Test("the context is cut to contextLength; the model is back in training mode afterwards")
    func context() {
        let model = NextTokenModel(vocabulary: 5, margin: 3)
        model.train()
        let tokens = model.generateTokens(continuing: [1, 2, 3], count: 4, temperature: 0, contextLength: 2,
                                          generator: Generator(seed: 1))
        #expect(tokens == [4, 0, 1, 2])
        #expect(model.calls == [[2, 3], [3, 4], [4, 0], [0, 1]])
        #expect(model.isTraining)
    }
}
