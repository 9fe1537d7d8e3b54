import Luz

extension Figure {
    /// Creates training curves: one panel per metric, with one line (with a dot per epoch) per
    /// set, like luz's `plot(fitted)`.
    ///
    /// Metrics and sets appear in the order of their first record; each set keeps its colour in
    /// every panel (first set orange, second sky blue, ...). Points are sorted by epoch and
    /// non-finite values are skipped. Each panel has its own vertical scale, as in luz's
    /// `facet_wrap(scales = "free_y")`. No records give a single empty panel.
    ///
    /// A single panel (one metric, typically the loss) is drawn 640 × 400 pixels, the size of a
    /// lone plot; several panels are 340 × 250 each, so that three fit side by side.
    /// - Parameters:
    ///   - records: The per-epoch values, as ``Records/rows`` holds them.
    ///   - columns: Panels per row; `nil` puts up to three side by side.
    ///   - title: A title over all panels.
    ///   - panelWidth: The width of each panel, in pixels; `nil` for 640 alone, 340 with others.
    ///   - panelHeight: The height of each panel, in pixels; `nil` for 400 alone, 250 with others.
    public static func trainingCurves(
        _ records: [MetricRecord], columns: Int? = nil, title: String? = nil,
        panelWidth: Double? = nil, panelHeight: Double? = nil
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
        let alone = panels.count == 1
        return grid(panels: panels, columns: columns ?? min(panels.count, 3), title: title,
                    panelWidth: panelWidth ?? (alone ? 640 : 340), panelHeight: panelHeight ?? (alone ? 400 : 250))
    }

    /// Creates training curves from `(set, metric, epoch, value)` tuples, drawn exactly as the
    /// ``MetricRecord`` form draws them.
    /// - Parameters:
    ///   - records: The per-epoch values.
    ///   - columns: Panels per row; `nil` puts up to three side by side.
    ///   - title: A title over all panels.
    ///   - panelWidth: The width of each panel, in pixels; `nil` for 640 alone, 340 with others.
    ///   - panelHeight: The height of each panel, in pixels; `nil` for 400 alone, 250 with others.
    public static func trainingCurves(
        _ records: [(set: String, metric: String, epoch: Int, value: Double)], columns: Int? = nil,
        title: String? = nil, panelWidth: Double? = nil, panelHeight: Double? = nil
    ) -> Figure {
        trainingCurves(
            records.map { MetricRecord(set: $0.set, metric: $0.metric, epoch: $0.epoch, value: $0.value) },
            columns: columns, title: title, panelWidth: panelWidth, panelHeight: panelHeight)
    }
}
