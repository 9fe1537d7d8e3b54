/// One value of one metric at the end of one epoch, as luz's `get_metrics()` lists them.
public struct CurveRecord: Hashable, Sendable {
    /// The data the metric was computed on, e.g. `"train"` or `"valid"`.
    public var set: String
    /// The metric name, e.g. `"loss"` or `"acc"`.
    public var metric: String
    /// The epoch, counted from 1 as luz does.
    public var epoch: Int
    /// The metric's value.
    public var value: Double

    /// Creates a record.
    /// - Parameters:
    ///   - set: The data set, e.g. `"train"`.
    ///   - metric: The metric name, e.g. `"loss"`.
    ///   - epoch: The epoch, from 1.
    ///   - value: The value.
    public init(set: String, metric: String, epoch: Int, value: Double) {
        self.set = set
        self.metric = metric
        self.epoch = epoch
        self.value = value
    }
}

extension Figure {
    /// Creates training curves: one panel per metric, with one line (with a dot per epoch) per
    /// set, like luz's `plot(fitted)`.
    ///
    /// Metrics and sets appear in the order of their first record; each set keeps its colour in
    /// every panel (first set orange, second sky blue, ...). Points are sorted by epoch and
    /// non-finite values are skipped. Each panel has its own vertical scale, as in luz's
    /// `facet_wrap(scales = "free_y")`. No records give a single empty panel.
    /// - Parameters:
    ///   - records: The per-epoch values.
    ///   - columns: Panels per row; `nil` puts up to three side by side.
    ///   - title: A title over all panels.
    ///   - panelWidth: The width of each panel, in pixels.
    ///   - panelHeight: The height of each panel, in pixels.
    public static func trainingCurves(
        _ records: [CurveRecord], columns: Int? = nil, title: String? = nil,
        panelWidth: Double = 340, panelHeight: Double = 250
    ) -> Figure {
        var metrics: [String] = []
        var sets: [String] = []
        for record in records {
            if !metrics.contains(record.metric) { metrics.append(record.metric) }
            if !sets.contains(record.set) { sets.append(record.set) }
        }
        let palette = Palette.okabeIto
        var panels: [Plot] = metrics.map { metric in
            var plot = Plot(title: metric, xLabel: "epoch", yLabel: metric)
            plot.xTicksAreIntegers = true
            for (setIndex, set) in sets.enumerated() {
                let points = records.filter { $0.metric == metric && $0.set == set && $0.value.isFinite }
                    .sorted { $0.epoch < $1.epoch }
                guard !points.isEmpty else { continue }
                plot = plot.line(x: points.map(\.epoch), y: points.map(\.value), label: set,
                                 color: palette[setIndex], showsMarkers: true)
            }
            return plot
        }
        if panels.isEmpty { panels = [Plot(xLabel: "epoch")] }
        return grid(panels: panels, columns: columns ?? min(panels.count, 3), title: title,
                    panelWidth: panelWidth, panelHeight: panelHeight)
    }

    /// Creates training curves from `(set, metric, epoch, value)` tuples, drawn exactly as the
    /// ``CurveRecord`` form draws them.
    /// - Parameters:
    ///   - records: The per-epoch values.
    ///   - columns: Panels per row; `nil` puts up to three side by side.
    ///   - title: A title over all panels.
    ///   - panelWidth: The width of each panel, in pixels.
    ///   - panelHeight: The height of each panel, in pixels.
    public static func trainingCurves(
        _ records: [(set: String, metric: String, epoch: Int, value: Double)], columns: Int? = nil,
        title: String? = nil, panelWidth: Double = 340, panelHeight: Double = 250
    ) -> Figure {
        trainingCurves(
            records.map { CurveRecord(set: $0.set, metric: $0.metric, epoch: $0.epoch, value: $0.value) },
            columns: columns, title: title, panelWidth: panelWidth, panelHeight: panelHeight)
    }
}
