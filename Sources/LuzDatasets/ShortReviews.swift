import Foundation
import LuzDatasetsResources

/// 288 one-line reviews we wrote, in two classes: 1 when the writer is pleased, 0 when not.
/// They are shipped with the package (`Datasets/luz-reviews.csv`), so no download is needed.
///
/// `Datasets/make_luz_reviews.py` composes them from our own phrases: 36 subjects ("the soup",
/// "the train ride", …), each in eight sentence forms with one of twelve adjective pairs. Every
/// adjective occurs in both classes. What decides the class is negation ("was not bad at all")
/// and contrast ("I expected … to be dull, but it was enjoyable"), never a single word. So a
/// classifier has to read the whole sentence, and a frozen sentence embedding with a linear
/// head does worse than an encoder that is fine-tuned (0.81 against 1.00 on the held-out
/// subjects in the `finetune` example).
///
/// ```swift
/// let reviews = try ShortReviews()
/// let (train, valid) = reviews.split(validationSubjects: 8)   // subjects 28–35 held out
/// ```
public struct ShortReviews: Sendable {
    /// The file shipped in `Datasets/`.
    public static let file = "luz-reviews.csv"
    /// The class names, by label: 0 displeased, 1 pleased.
    public static let classNames = ["displeased", "pleased"]

    /// The sentences.
    public let texts: [String]
    /// The class of each sentence (0 or 1).
    public let labels: [Int64]
    /// The subject each sentence is about, numbered 0 to 35 in the order of the file.
    public let subjects: [Int]

    /// Reads the shipped file.
    /// - Throws: ``DatasetError`` when the resource is missing, or when a row is malformed. The
    ///   error names the file, the row and the column.
    public init() throws {
        guard let url = PackageData.url(forFile: Self.file) else {
            throw DatasetError.notFound(file: Self.file, hint: "the package resource is not bundled")
        }
        try self.init(contentsOf: url)
    }

    /// Reads reviews in the shipped file's layout: the columns `text`, `label` (0 or 1) and
    /// `subject` (an integer).
    public init(contentsOf url: URL) throws {
        let table = try CSVTable(contentsOf: url, missingValues: [])
        let text = try table.columnIndex("text"), label = try table.columnIndex("label")
        let subject = try table.columnIndex("subject")
        var texts: [String] = [], labels: [Int64] = [], subjects: [Int] = []
        for (number, row) in table.rows.enumerated() {
            func field(_ column: Int, _ name: String) throws -> String {
                guard let value = row[column], !value.isEmpty else {
                    throw DatasetError.invalidCSV(file: url.lastPathComponent, reason: "row \(number + 1): column '\(name)' is empty")
                }
                return value
            }
            texts.append(try field(text, "text"))
            guard let value = Int64(try field(label, "label")), value == 0 || value == 1 else {
                throw DatasetError.invalidCSV(file: url.lastPathComponent, reason: "row \(number + 1): column 'label' must be 0 or 1, got '\(row[label] ?? "")'")
            }
            labels.append(value)
            guard let group = Int(try field(subject, "subject")), group >= 0 else {
                throw DatasetError.invalidCSV(file: url.lastPathComponent, reason: "row \(number + 1): column 'subject' must be a non-negative integer, got '\(row[subject] ?? "")'")
            }
            subjects.append(group)
        }
        self.texts = texts
        self.labels = labels
        self.subjects = subjects
    }

    /// How many reviews there are.
    public var count: Int { texts.count }

    /// The reviews split by subject: the last `validationSubjects` subjects form the
    /// validation set. The validation set thus holds subjects that the training set never
    /// names.
    public func split(validationSubjects: Int) -> (train: (texts: [String], labels: [Int64]),
                                                   valid: (texts: [String], labels: [Int64])) {
        let subjectCount = (subjects.max() ?? -1) + 1
        let firstHeldOut = subjectCount - Swift.max(0, Swift.min(validationSubjects, subjectCount))
        var train: ([String], [Int64]) = ([], []), valid: ([String], [Int64]) = ([], [])
        for i in 0..<count {
            if subjects[i] >= firstHeldOut {
                valid.0.append(texts[i]); valid.1.append(labels[i])
            } else {
                train.0.append(texts[i]); train.1.append(labels[i])
            }
        }
        return ((train.0, train.1), (valid.0, valid.1))
    }
}
