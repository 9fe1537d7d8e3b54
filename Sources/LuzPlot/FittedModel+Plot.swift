import Luz

extension FittedModel {
    /// The loss and metric curves per epoch, one panel per metric with a line for training and
    /// one for validation (luz's `plot(fitted)`).
    ///
    /// ```swift
    /// try fitted.plot().write(to: "curves.svg")
    /// ```
    public func plot(title: String? = nil, columns: Int? = nil) -> Figure {
        Figure.trainingCurves(records.rows.map { CurveRecord(set: $0.set, metric: $0.metric, epoch: $0.epoch, value: $0.value) },
                              columns: columns, title: title)
    }
}
