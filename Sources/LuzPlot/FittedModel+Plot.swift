import Luz

extension FittedModel {
    /// The loss and metric curves per epoch, one panel per metric with a line for training and
    /// one for validation (luz's `plot(fitted)`).
    ///
    /// ```swift
    /// try fitted.plot().write(to: "curves.svg")
    /// ```
    public func plot(title: String? = nil, columns: Int? = nil) -> Figure {
        Figure.trainingCurves(records.rows, columns: columns, title: title)
    }
}
