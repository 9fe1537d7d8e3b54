import Foundation
import Testing
@testable import LuzPlot

@Suite("Nice ticks and number formatting")
struct TicksTests {
    @Test("0...1 gives steps of 0.2, exact decimals")
    func unitInterval() {
        #expect(Ticks.nice(in: 0...1) == [0, 0.2, 0.4, 0.6, 0.8, 1])
    }

    @Test("-3.7...12.2 gives multiples of 2 inside the range (multiples of 5 would be only three)")
    func negativeToPositive() {
        #expect(Ticks.nice(in: -3.7...12.2) == [-2, 0, 2, 4, 6, 8, 10, 12])
    }

    @Test("At least four ticks on any range, whatever the target count",
          arguments: [(0.0, 0.5), (0.02, 0.7), (-0.01, 0.73), (0.0, 1.0), (0.98, 1.0), (1e-7, 1.3e-7), (-3.7, 12.2),
                      (0.013, 0.0171), (0.0, 0.9), (5.0, 14.0), (-1e6, 1e6), (12345.0, 12346.0)],
          [1, 2, 3, 5])
    func atLeastFourTicks(range: (Double, Double), targetCount: Int) throws {
        let ticks = Ticks.nice(in: range.0...range.1, targetCount: targetCount)
        #expect(ticks.count >= 4, "\(range) with \(targetCount): \(ticks)")
        #expect(ticks.allSatisfy { $0 >= range.0 && $0 <= range.1 })
        let step = ticks[1] - ticks[0]
        let mantissa = step / pow(10, floor(log10(step) + 1e-9))
        #expect([1.0, 2.0, 5.0].contains { abs($0 - mantissa) < 1e-6 }, "\(ticks)")
    }

    @Test("A loss between 0.02 and 0.7 gets steps of 0.1, not 0.0 and 0.5 alone")
    func lossRange() {
        #expect(Ticks.nice(in: 0.02...0.7, targetCount: 2) == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7])
        #expect(Ticks.nice(in: 0...0.5, targetCount: 2) == [0, 0.1, 0.2, 0.3, 0.4, 0.5])
    }

    @Test("Several ranges give 1/2/5 × 10^k steps")
    func assortedRanges() {
        #expect(Ticks.nice(in: 0...100) == [0, 20, 40, 60, 80, 100])
        #expect(Ticks.nice(in: 0.001...0.0042) == [0.001, 0.002, 0.003, 0.004])
        #expect(Ticks.nice(in: -1e6...1e6) == [-1e6, -5e5, 0, 5e5, 1e6])
        #expect(Ticks.nice(in: 170...235) == [170, 180, 190, 200, 210, 220, 230])
        #expect(Ticks.nice(in: 0...1, targetCount: 10) == [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1])
        #expect(Ticks.nice(in: -2.5 ... -0.5, targetCount: 4) == [-2.5, -2, -1.5, -1, -0.5])
    }

    @Test("Every step is 1, 2 or 5 times a power of ten and every tick is inside the range",
          arguments: [(0.0, 1.0), (-3.7, 12.2), (0.013, 0.0171), (-1234.0, 98765.0), (1e-9, 3e-9), (7.0, 7.5)])
    func stepsAreNice(low: Double, high: Double) throws {
        let ticks = Ticks.nice(in: low...high)
        try #require(ticks.count >= 2)
        let step = ticks[1] - ticks[0]
        // The difference of two ticks may fall just under a power of ten (0.0999…), hence the nudge.
        let mantissa = step / pow(10, floor(log10(step) + 1e-9))
        #expect([1.0, 2.0, 5.0].contains { abs($0 - mantissa) < 1e-6 })
        #expect(ticks.allSatisfy { $0 >= low && $0 <= high })
        #expect(zip(ticks, ticks.dropFirst()).allSatisfy { abs(($1 - $0) - step) < step * 1e-9 })
        #expect((2...9).contains(ticks.count))
    }

    @Test("The integer restriction never gives fractional ticks")
    func integerTicks() {
        #expect(Ticks.nice(in: 0.9...3.1, targetCount: 5, minimumStep: 1) == [1, 2, 3])
    }

    @Test("Degenerate and non-finite ranges")
    func degenerate() {
        #expect(Ticks.nice(in: 3...3) == [3])
        #expect(Ticks.nice(in: 0...Double.infinity).isEmpty)
    }

    @Test("Labels share the fewest decimals that show every value")
    func labels() {
        #expect(Ticks.labels(for: [0, 0.2, 0.4, 0.6, 0.8, 1]) == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(Ticks.labels(for: [0, 5, 10]) == ["0", "5", "10"])
        #expect(Ticks.labels(for: [-0.5, 0, 0.5]) == ["-0.5", "0.0", "0.5"])
        #expect(Ticks.labels(for: [0.001, 0.0015, 0.002]) == ["0.0010", "0.0015", "0.0020"])
        #expect(Ticks.labels(for: [0, 2e6, 4e6]) == ["0", "2e6", "4e6"])
        #expect(Ticks.labels(for: [2.5e-7, 5e-7]) == ["2.5e-7", "5.0e-7"])
    }

    @Test("Fixed-decimal formatting rounds, trims and never writes negative zero")
    func fixedFormatting() {
        #expect(formatFixed(3.14159, decimals: 2, trimsZeros: true) == "3.14")
        #expect(formatFixed(2.5, decimals: 2, trimsZeros: true) == "2.5")
        #expect(formatFixed(2.5, decimals: 2, trimsZeros: false) == "2.50")
        #expect(formatFixed(-0.001, decimals: 2, trimsZeros: true) == "0")
        #expect(formatFixed(-12.345, decimals: 1, trimsZeros: true) == "-12.3")
        #expect(formatFixed(0.05, decimals: 2, trimsZeros: false) == "0.05")
        #expect(formatFixed(1234567, decimals: 0, trimsZeros: true) == "1234567")
        #expect(formatFixed(.nan, decimals: 2, trimsZeros: true) == "0")
    }
}
