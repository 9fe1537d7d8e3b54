import Foundation
import LuzData
import LuzTensor

/// Images sorted into one folder per class (torchvision's `ImageFolder`):
///
/// ```
/// root/cat/001.ppm
/// root/cat/kittens/002.ppm
/// root/dog/001.ppm
/// ```
///
/// The classes are the names of `root`'s subfolders, sorted, and a class's index is its
/// position in ``classes``. Every file under a class folder, at any depth, whose extension is
/// one of `extensions` (ignoring case) is an image of that class; other files are ignored, as
/// are hidden files and folders (names starting with `.`) and files directly in `root`. The
/// images are in torchvision's order: class by class, then by folder path and file name.
///
/// Images are read when an element is, with ``PNM`` (PGM and PPM files) unless a `loader` is
/// given. Creating the dataset checks the header of every file (and that a binary file holds
/// the pixels it announces), so a damaged file is reported when the dataset is made, naming it
/// and the field, rather than in the middle of an epoch.
///
/// Each element is an ``Example`` whose input is the transformed ``Image`` (by default
/// ``Transform/toTensor``: a `float32` tensor `[channels, height, width]` in [0, 1]) and whose
/// target is the transformed class index (by default an `int64` scalar).
///
/// ```swift
/// let train = try ImageFolder(root: URL(fileURLWithPath: "shapes/train"))
/// print(train.classes)                                      // ["circle", "square"]
/// let loader = DataLoader(train, batchSize: 32, shuffle: true)
/// ```
public struct ImageFolder: Dataset {
    /// One image file and its class.
    public struct Sample: Equatable, Sendable {
        /// The image file.
        public var url: URL
        /// The index of its class in ``ImageFolder/classes``.
        public var classIndex: Int
    }

    /// The extensions read by default: PGM, PPM and the generic PNM.
    public static let defaultExtensions: Set<String> = ["pgm", "ppm", "pnm"]

    /// The folder holding one subfolder per class.
    public let root: URL
    /// The class names (the subfolders' names), sorted.
    public let classes: [String]
    /// Each class name's index.
    public let classToIndex: [String: Int]
    /// The image files with their classes, in order.
    public let samples: [Sample]
    /// The transform applied to each image; `nil` is ``Transform/toTensor``.
    public let transform: Transform<Image, Tensor>?
    /// The transform applied to each class index; `nil` gives an `int64` scalar.
    public let targetTransform: Transform<Int, Tensor>?
    private let loader: ((URL) throws -> Image)?

    /// The class index of each image, in order (torchvision's `targets`).
    public var targets: [Int] { samples.map(\.classIndex) }

    /// Finds the classes and their images.
    /// - Parameters:
    ///   - root: the folder holding one subfolder per class.
    ///   - transform: applied to each image; `nil` (the default) is ``Transform/toTensor``.
    ///   - targetTransform: applied to each class index; `nil` (the default) makes an `int64`
    ///     scalar.
    ///   - extensions: the file extensions that are images, without the dot, lowercase
    ///     (default ``defaultExtensions``).
    ///   - loader: reads one file into an ``Image``; `nil` (the default) reads PGM and PPM
    ///     files with ``PNM`` and checks every header now. A custom loader's files are not
    ///     opened before an element is read.
    /// - Throws: ``DatasetError/notFound(file:hint:)`` when `root` has no class folder or a
    ///   class has no image (as torchvision's `ImageFolder`), and, with the default loader,
    ///   ``DatasetError/invalidImage(file:field:reason:)`` naming the first damaged file
    ///   (relative to `root`) and the field.
    public init(root: URL, transform: Transform<Image, Tensor>? = nil, targetTransform: Transform<Int, Tensor>? = nil,
                extensions: Set<String> = ImageFolder.defaultExtensions, loader: ((URL) throws -> Image)? = nil) throws {
        self.root = root
        self.transform = transform
        self.targetTransform = targetTransform
        self.loader = loader
        let wanted = Set(extensions.map { $0.lowercased() })
        let folders = try Self.visibleEntries(of: root, name: root.path).filter(\.isFolder).map(\.name)
        guard !folders.isEmpty else {
            throw DatasetError.notFound(file: root.path, hint: "no class folder in it (ImageFolder reads root/<class>/<image>)")
        }
        classes = folders.sorted()
        classToIndex = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        var samples: [Sample] = []
        var empty: [String] = []
        for (index, name) in classes.enumerated() {
            let files = try Self.imageFiles(in: root.appendingPathComponent(name, isDirectory: true), extensions: wanted)
            if files.isEmpty { empty.append(name) }
            samples += files.map { Sample(url: $0, classIndex: index) }
        }
        guard empty.isEmpty else {
            let list = wanted.sorted().map { "." + $0 }.joined(separator: ", ")
            throw DatasetError.notFound(
                file: root.path,
                hint: "no image (\(list)) in the class folder\(empty.count == 1 ? "" : "s") \(empty.joined(separator: ", ")); every class needs one, as in torchvision's ImageFolder")
        }
        self.samples = samples
        if loader == nil {
            for sample in samples { try PNM.check(sample.url, name: relativeName(sample.url)) }
        }
    }

    /// The number of images.
    public var count: Int { samples.count }

    /// The image at `index`, read from its file (not transformed).
    /// - Throws: what the loader throws; the default one throws
    ///   ``DatasetError/invalidImage(file:field:reason:)`` naming the file (relative to ``root``).
    public func image(at index: Int) throws -> Image {
        require(index >= 0 && index < count, "ImageFolder: index \(index) out of range 0..<\(count)")
        let url = samples[index].url
        if let loader { return try loader(url) }
        return try PNM.image(contentsOf: url, name: relativeName(url))
    }

    /// The image and class at `index`, transformed (random transforms with the epoch seed 0).
    /// A file that cannot be read any more (it was checked when the dataset was made) stops
    /// the program with the error, naming it.
    public subscript(index: Int) -> Example {
        element(at: index, epochSeed: 0)
    }

    /// Whether a transform draws random numbers (augmentation).
    public var isRandomized: Bool { (transform?.isRandom ?? false) || (targetTransform?.isRandom ?? false) }

    /// The image and class at `index`, transformed with the draws of
    /// `Generator(epochSeed:element:)`, so that an augmented epoch is the same with or without
    /// prefetching.
    public func element(at index: Int, epochSeed: UInt64) -> Example {
        let generator = isRandomized ? Generator(epochSeed: epochSeed, element: index) : Generator.default
        let image: Image
        do {
            image = try self.image(at: index)
        } catch {
            fatalError("ImageFolder: cannot read image \(index) of \(root.path): \(error)")
        }
        let label = samples[index].classIndex
        return Example(input: (transform ?? .toTensor)(image, generator: generator),
                       target: targetTransform.map { $0(label, generator: generator) } ?? Tensor([Int64(label)], shape: []))
    }

    /// A file's path relative to ``root`` (`cat/001.ppm`), what errors name.
    private func relativeName(_ url: URL) -> String {
        let base = root.standardizedFileURL.path
        let path = url.standardizedFileURL.path
        return path.hasPrefix(base + "/") ? String(path.dropFirst(base.count + 1)) : path
    }

    private struct Entry {
        var name: String
        var isFolder: Bool
    }

    /// The entries of a folder whose names do not start with a dot; links are followed.
    private static func visibleEntries(of folder: URL, name: String) throws -> [Entry] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            var isFolder: ObjCBool = false
            if !FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) {
                throw DatasetError.notFound(file: name, hint: "no such folder")
            }
            throw DatasetError.io(file: name, reason: isFolder.boolValue ? "cannot list the folder: \(error.localizedDescription)" : "not a folder")
        }
        return names.filter { !$0.hasPrefix(".") }.map { entry in
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: folder.appendingPathComponent(entry).path, isDirectory: &isFolder)
            return Entry(name: entry, isFolder: isFolder.boolValue)
        }
    }

    /// The image files under a class folder in torchvision's order: folders sorted by path
    /// (each folder's own files before its subfolders'), files sorted by name in each.
    private static func imageFiles(in folder: URL, extensions: Set<String>) throws -> [URL] {
        var folders: [(path: String, url: URL)] = []
        var pending: [(path: String, url: URL, depth: Int)] = [("", folder, 0)]
        while let (path, url, depth) = pending.popLast() {
            folders.append((path, url))
            // Links are followed as torchvision does; a loop of them stops here.
            guard depth < 32 else { continue }
            for entry in try visibleEntries(of: url, name: url.path) where entry.isFolder {
                pending.append((path.isEmpty ? entry.name : path + "/" + entry.name, url.appendingPathComponent(entry.name, isDirectory: true), depth + 1))
            }
        }
        var files: [URL] = []
        for (_, url) in folders.sorted(by: { $0.path < $1.path }) {
            let names = try visibleEntries(of: url, name: url.path)
                .filter { !$0.isFolder && extensions.contains(($0.name as NSString).pathExtension.lowercased()) }
                .map(\.name).sorted()
            files += names.map { url.appendingPathComponent($0) }
        }
        return files
    }
}
