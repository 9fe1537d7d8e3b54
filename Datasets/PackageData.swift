import Foundation

/// Files shipped with the Luz package (the `Datasets/` folder), found through the resource bundle.
public enum PackageData {
    /// The location of a shipped data file such as `penguins.csv`, or `nil` when it is not bundled.
    public static func url(forFile name: String) -> URL? {
        let base = (name as NSString).deletingPathExtension
        let ext = (name as NSString).pathExtension
        return Bundle.module.url(forResource: base, withExtension: ext.isEmpty ? nil : ext)
    }
}
