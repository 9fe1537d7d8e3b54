import Foundation
import Luz

extension LearningRateFinderResult {
    /// The loss of each step against the learning rate on a log scale, raw (light) and smoothed,
    /// with the suggested rate marked by a dashed vertical line (luz's `plot(lr_finder)`).
    ///
    /// ```swift
    /// let found = try setup.learningRateFinder(data)
    /// try found.plot().write(to: "lr-finder.svg")
    /// ```
    public func plot(title: String? = "Learning-rate finder") -> Figure {
        let exponents = records.map { log10($0.learningRate) }
        let losses = records.map(\.loss)
        let shown = (losses + smoothedLosses).filter(\.isFinite)
        var panel = Plot(title: title, xLabel: "learning rate (log10)", yLabel: "loss")
            .line(x: exponents, y: losses, label: "loss", color: .gray, width: 1)
            .line(x: exponents, y: smoothedLosses, label: "smoothed", color: .darkGray, width: 2)
        if let low = shown.min(), let high = shown.max(), suggestedLearningRate > 0 {
            let mark = log10(suggestedLearningRate)
            panel = panel.line(x: [mark, mark], y: [low, high],
                               label: String(format: "suggested %.1e", suggestedLearningRate), color: .red, dashed: true)
        }
        return Figure(panel)
    }
}
