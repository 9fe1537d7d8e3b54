/// One value of one metric for one set in one epoch: a row of luz's `get_metrics` table.
public struct MetricRecord: Hashable, Sendable, Codable {
    /// `"train"` or `"valid"`.
    public var set: String
    /// The metric's name, e.g. `"loss"` or `"acc"`.
    public var metric: String
    /// The epoch, counting from 1.
    public var epoch: Int
    public var value: Double

    public init(set: String, metric: String, epoch: Int, value: Double) {
        self.set = set
        self.metric = metric
        self.epoch = epoch
        self.value = value
    }
}

/// The metrics of every epoch of a run, as a table (set, metric, epoch, value).
public struct Records: Sendable, Codable, Equatable {
    /// All rows, in the order they were recorded.
    public private(set) var rows: [MetricRecord] = []

    public init(rows: [MetricRecord] = []) { self.rows = rows }

    /// Adds or replaces the value of a metric for a set and epoch.
    public mutating func record(set: String, metric: String, epoch: Int, value: Double) {
        if let i = rows.firstIndex(where: { $0.set == set && $0.metric == metric && $0.epoch == epoch }) {
            rows[i].value = value
        } else {
            rows.append(MetricRecord(set: set, metric: metric, epoch: epoch, value: value))
        }
    }

    /// The value for a set, metric and epoch (the last epoch recorded when `epoch` is nil).
    public func value(set: String, metric: String, epoch: Int? = nil) -> Double? {
        let matching = rows.filter { $0.set == set && $0.metric == metric && (epoch == nil || $0.epoch == epoch) }
        return matching.max { $0.epoch < $1.epoch }?.value
    }

    /// A value by its monitor name, such as `"valid_loss"` or `"train_acc"`.
    public func value(monitor: String, epoch: Int? = nil) -> Double? {
        guard let split = monitor.firstIndex(of: "_") else { return nil }
        return value(set: String(monitor[..<split]), metric: String(monitor[monitor.index(after: split)...]), epoch: epoch)
    }

    /// A metric's values by epoch for one set.
    public func series(set: String, metric: String) -> [(epoch: Int, value: Double)] {
        rows.filter { $0.set == set && $0.metric == metric }.map { ($0.epoch, $0.value) }.sorted { $0.epoch < $1.epoch }
    }

    /// The sets present (`train`, then `valid` if validated).
    public var sets: [String] { orderedUnique(rows.map(\.set)) }
    /// The metric names present, in first-seen order (the loss first).
    public var metrics: [String] { orderedUnique(rows.map(\.metric)) }
    /// The highest epoch recorded, 0 when empty.
    public var lastEpoch: Int { rows.map(\.epoch).max() ?? 0 }

    /// The rows of one epoch and set, in recording order.
    public func rows(set: String, epoch: Int) -> [MetricRecord] {
        rows.filter { $0.set == set && $0.epoch == epoch }
    }

    private func orderedUnique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}
