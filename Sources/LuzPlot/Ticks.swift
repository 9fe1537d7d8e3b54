import Foundation

/// "Nice" axis ticks: evenly spaced values whose step is 1, 2 or 5 times a power of ten.
public enum Ticks {
    /// Returns the multiples of a nice step (1, 2 or 5 × 10^k) that lie inside a range.
    ///
    /// Among the steps 1, 2 and 5 × 10^k near `span / targetCount`, those giving at least
    /// ``minimumCount`` ticks inside the range qualify (an axis with two ticks, `0.0` and `0.5`,
    /// cannot be read), and of these the one whose number of ticks is closest to `targetCount`
    /// wins; on a tie the smaller step (more ticks) wins. Ticks never extend beyond the range (the
    /// axis range is expanded before, as ggplot does, not snapped to the ticks). Values are exact
    /// decimals: `0.6`, not `0.6000000000000001`.
    ///
    /// For example `0...1` gives `[0, 0.2, 0.4, 0.6, 0.8, 1]`, `0.02...0.7` gives
    /// `[0.1, 0.2, …, 0.7]` and `-3.7...12.2` gives `[-2, 0, 2, …, 12]` (steps of 5 would give
    /// three). A degenerate range `a...a` gives `[a]`; a non-finite bound gives `[]`.
    /// - Parameters:
    ///   - range: The interval to cover.
    ///   - targetCount: The desired number of ticks (at least 1).
    /// - Returns: The tick values, ascending.
    public static func nice(in range: ClosedRange<Double>, targetCount: Int = 5) -> [Double] {
        nice(in: range, targetCount: targetCount, minimumStep: 0)
    }

    /// Returns labels for tick values, all with the same number of decimals: the fewest that
    /// show every value exactly (e.g. `"0.0", "0.5", "1.0"`; `"0", "5", "10"`).
    ///
    /// Values of magnitude 10^6 or more, or ticks that need more than five decimals, are written
    /// as `mantissa e exponent` with a shared exponent (`"2e6"`, `"2.5e-7"`); zero stays `"0"`.
    /// Non-finite values are labelled `"NaN"`, `"inf"` or `"-inf"`.
    /// - Parameter values: The tick values.
    public static func labels(for values: [Double]) -> [String] {
        let finite = values.filter(\.isFinite)
        let largest = finite.map(abs).max() ?? 0
        let decimals = sharedDecimals(finite)
        if largest >= 1e6 || (decimals > 5 && largest > 0) {
            let exponent = Int(floor(log10(largest)))
            let scale = pow(10, Double(exponent))
            let mantissas = finite.map { $0 / scale }
            let mantissaDecimals = sharedDecimals(mantissas)
            return values.map { value in
                guard value.isFinite else { return nonFiniteLabel(value) }
                if value == 0 { return "0" }
                return formatFixed(value / scale, decimals: mantissaDecimals, trimsZeros: false)
                    + "e\(exponent)"
            }
        }
        return values.map { value in
            value.isFinite ? formatFixed(value, decimals: decimals, trimsZeros: false) : nonFiniteLabel(value)
        }
    }

    /// The fewest ticks ``nice(in:targetCount:)`` gives on a range that is not a single value
    /// (fewer only when a lower bound on the step, such as whole epochs, leaves no choice).
    public static let minimumCount = 4

    /// The nice ticks with an optional lower bound on the step (e.g. 1 for epochs).
    static func nice(in range: ClosedRange<Double>, targetCount: Int, minimumStep: Double) -> [Double] {
        let low = range.lowerBound, high = range.upperBound
        guard low.isFinite, high.isFinite else { return [] }
        guard high > low else { return [low] }
        let target = max(targetCount, 1)
        let exponent = Int(floor(log10((high - low) / Double(target))))
        // A step of 10^(exponent − 1) is at most a tenth of span / target, so it always gives
        // at least max(target, minimumCount) ticks unless minimumStep rules it out.
        var best: (ticks: [Double], tooFew: Bool, error: Int)?
        for power in (exponent - 1)...(exponent + 2) {
            for mantissa in [1, 2, 5] {
                let step = Double(mantissa) * pow(10, Double(power))
                guard step >= minimumStep, step > 0 else { continue }
                let ticks = multiples(of: mantissa, power: power, from: low, through: high)
                let tooFew = ticks.count < minimumCount
                let error = abs(ticks.count - target)
                if let current = best, (tooFew ? 1 : 0, error) >= (current.tooFew ? 1 : 0, current.error) { continue }
                best = (ticks, tooFew, error)
            }
        }
        return best?.ticks ?? []
    }

    /// `k · mantissa · 10^power` for every integer `k` that lands inside `low...high`, computed so
    /// that each value is the double nearest to the exact decimal.
    private static func multiples(of mantissa: Int, power: Int, from low: Double, through high: Double) -> [Double] {
        let step = Double(mantissa) * pow(10, Double(power))
        // A relative tolerance keeps a bound that is itself a multiple (1.0 for step 0.2) inside.
        let tolerance = 1e-9
        let first = Int((low / step - tolerance).rounded(.up))
        let last = Int((high / step + tolerance).rounded(.down))
        guard last >= first, last - first < 10_000 else { return [] }
        return (first...last).map { k in
            power >= 0
                ? Double(k * mantissa) * pow(10, Double(power))
                : Double(k * mantissa) / pow(10, Double(-power))
        }
    }

    /// The fewest decimals (up to 12) that write every value exactly.
    private static func sharedDecimals(_ values: [Double]) -> Int {
        for decimals in 0...12 {
            let scale = pow(10, Double(decimals))
            let exact = values.allSatisfy { value in
                let rounded = (value * scale).rounded() / scale
                return abs(rounded - value) <= 1e-9 * max(1, abs(value))
            }
            if exact { return decimals }
        }
        return 12
    }

    private static func nonFiniteLabel(_ value: Double) -> String {
        value.isNaN ? "NaN" : (value > 0 ? "inf" : "-inf")
    }
}

/// Writes `value` with exactly `decimals` digits after the point (or fewer, without trailing
/// zeros, when `trimsZeros`), independent of the locale. Negative zero is written `"0"`.
///
/// Our own formatter rather than `String(format:)` keeps SVG output byte-identical across
/// platforms and fast enough for tens of thousands of coordinates.
func formatFixed(_ value: Double, decimals: Int, trimsZeros: Bool) -> String {
    guard value.isFinite else { return "0" }
    let decimals = min(max(decimals, 0), 12)
    var scale = 1
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (abs(value) * Double(scale)).rounded()
    // Beyond 2^53 the integer path loses digits; such magnitudes never occur as SVG coordinates
    // (they are clamped first) and tick labels switch to scientific notation well before.
    guard scaled < 9e15 else { return String(Int(value.rounded())) }
    let units = Int(scaled)
    if units == 0 {
        return trimsZeros || decimals == 0 ? "0" : "0." + String(repeating: "0", count: decimals)
    }
    var text = value < 0 ? "-" : ""
    text += String(units / scale)
    if decimals > 0 {
        var fraction = String(units % scale)
        fraction = String(repeating: "0", count: decimals - fraction.count) + fraction
        if trimsZeros {
            while fraction.last == "0" { fraction.removeLast() }
        }
        if !fraction.isEmpty { text += "." + fraction }
    }
    return text
}
