/// A quantity a callback watches: one metric of one set, such as the validation loss.
///
/// Written as a value (`.valid(.loss)`, `.train("acc")`, `.valid("class_acc")` for a metric of
/// one head) or as the name luz uses (`"valid_loss"`). A run checks every monitor of its
/// callbacks when it begins and stops with an error listing the names that exist when one is
/// misspelt, instead of failing at the end of the first epoch.
public struct Monitor: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// `"train"` or `"valid"`.
    public let set: String
    /// The metric's name in records (`"loss"`, `"acc"`, `"class_acc"`).
    public let metric: MetricName

    /// The metric `metric` of the set `set`.
    public init(set: String, metric: MetricName) {
        self.set = set
        self.metric = metric
    }

    /// A monitor from its name, `"<set>_<metric>"` (`"valid_loss"`, `"train_acc"`).
    public init(_ name: String) {
        if let split = name.firstIndex(of: "_") {
            self.init(set: String(name[..<split]), metric: MetricName(String(name[name.index(after: split)...])))
        } else {
            // Not a set and a metric: kept whole, so the check at the run's start names it.
            self.init(set: name, metric: MetricName(""))
        }
    }

    /// A monitor from its name written as a literal: `"valid_loss"`.
    public init(stringLiteral value: String) { self.init(value) }

    /// A metric of the validation set.
    public static func valid(_ metric: MetricName) -> Monitor { Monitor(set: "valid", metric: metric) }
    /// A metric of the training set.
    public static func train(_ metric: MetricName) -> Monitor { Monitor(set: "train", metric: metric) }

    /// The name luz uses, `"valid_loss"`.
    public var name: String { metric.name.isEmpty ? set : "\(set)_\(metric.name)" }
    public var description: String { name }

    /// The same metric on the training set, which a `valid_` monitor falls back to when a run
    /// has no validation data.
    var onTrainingSet: Monitor { Monitor(set: "train", metric: metric) }

    /// Whether larger values are better by the name's convention (accuracies and scores), for
    /// ``MonitorMode/auto`` when the metric itself is not known.
    var looksHigherIsBetter: Bool {
        let higher = ["acc", "auc", "precision", "recall", "f1"]
        return higher.contains { metric.name == $0 || metric.name.hasSuffix("_" + $0) || metric.name.hasPrefix($0 + "_") }
    }
}

/// The name of a metric in records: `.loss`, `.accuracy`, or any metric's ``Metric/name``.
public struct MetricName: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The name as recorded.
    public let name: String

    /// A metric by its recorded name.
    public init(_ name: String) { self.name = name }
    /// A metric by its recorded name written as a literal: `"acc"`.
    public init(stringLiteral value: String) { self.init(value) }

    /// The loss (``LossAverage``), recorded for every run.
    public static let loss = MetricName("loss")
    /// ``Accuracy`` and the binary accuracies.
    public static let accuracy = MetricName("acc")

    public var description: String { name }
}
