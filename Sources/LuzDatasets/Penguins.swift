import Foundation
import LuzData
import LuzDatasetsResources
import LuzTensor

/// The Palmer penguins (Horst, Hill and Gorman, CC0): 344 penguins of three species from three
/// islands of the Palmer Archipelago, with bill, flipper and body measurements. Shipped with
/// the package (`Datasets/penguins.csv`), no download needed.
///
/// Each element is an ``Example``: the chosen feature columns as a `float32` vector, and the
/// species code (`int64`: 0 Adelie, 1 Chinstrap, 2 Gentoo) as target.
///
/// ```swift
/// let penguins = try Penguins()          // the 333 complete rows, the four measurements
/// penguins.features.shape                // [333, 4]
/// ```
public struct Penguins: Dataset {
    /// The species, in the documented level order (R's factor levels): the target codes.
    public static let speciesLevels = ["Adelie", "Chinstrap", "Gentoo"]
    /// The islands, in level order.
    public static let islandLevels = ["Biscoe", "Dream", "Torgersen"]
    /// The sexes, in level order.
    public static let sexLevels = ["female", "male"]
    /// The four measurements (R's `penguins[, 3:6]`): bill length and depth, flipper length,
    /// body mass.
    public static let measurementColumns = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]

    /// The whole shipped table: 344 rows, eight columns (species, island, bill_length_mm,
    /// bill_depth_mm, flipper_length_mm, body_mass_g, sex, year), `NA` as missing.
    /// - Throws: ``DatasetError`` when the resource is missing or cannot be parsed.
    public static func table() throws -> CSVTable {
        guard let url = PackageData.url(forFile: "penguins.csv") else {
            throw DatasetError.notFound(file: "penguins.csv", hint: "the package resource is not bundled")
        }
        return try CSVTable(contentsOf: url)
    }

    /// The rows kept (after dropping those with missing values).
    public let table: CSVTable
    /// The columns making up the features, in order.
    public let featureColumns: [String]
    /// The features, `[rows, featureColumns.count]`, `float32`. Categorical columns (island,
    /// sex, species) appear as their 0-based level code.
    public let features: Tensor
    /// The species codes, `[rows]`, `int64`, in ``speciesLevels`` order.
    public let labels: Tensor
    /// The species of the kept rows.
    public let species: Categorical
    /// The islands of the kept rows.
    public let islands: Categorical

    /// Loads the penguins.
    /// - Parameters:
    ///   - featureColumns: the feature columns, by default the four measurements.
    ///   - dropMissingIn: drop the rows with a missing value in these columns; `nil` (the
    ///     default, R's `na.omit`) drops rows with any missing value, keeping 333. Rows whose
    ///     features or species are missing are always dropped.
    /// - Throws: ``DatasetError/invalidCSV(file:reason:)`` for an unknown column.
    public init(featureColumns: [String] = Penguins.measurementColumns, dropMissingIn: [String]? = nil) throws {
        let all = try Self.table()
        let required = ["species"] + featureColumns
        let table = try all.droppingMissing(in: dropMissingIn.map { Array(Set($0 + required)) })
        var values = [Float](repeating: 0, count: table.rowCount * featureColumns.count)
        for (j, column) in featureColumns.enumerated() {
            let levels: [String]? = switch column {
            case "species": Self.speciesLevels
            case "island": Self.islandLevels
            case "sex": Self.sexLevels
            default: nil
            }
            let numbers: [Double?]
            if let levels {
                numbers = try table.categories(column, levels: levels).codes.map { $0.map(Double.init) }
            } else {
                numbers = try table.numbers(column)
            }
            for (i, value) in numbers.enumerated() { values[i * featureColumns.count + j] = Float(value!) }
        }
        self.table = table
        self.featureColumns = featureColumns
        species = try table.categories("species", levels: Self.speciesLevels)
        islands = try table.categories("island", levels: Self.islandLevels)
        features = Tensor(values, shape: [table.rowCount, featureColumns.count])
        labels = Tensor(species.codes.map { Int64($0!) })
    }

    /// The number of penguins kept.
    public var count: Int { table.rowCount }

    /// The features and species of penguin `index`.
    public subscript(index: Int) -> Example {
        Example(input: features[index], target: labels[index])
    }

    /// The penguins at `indices`, gathered in one pass.
    public func batch(at indices: [Int]) -> Example? {
        TensorDataset(inputs: features, targets: labels).batch(at: indices)
    }
}
