import LuzTensor

// Image transforms for augmentation, after torchvision's (v1 names and defaults).
//
// They take float tensors `[..., H, W]` (a `[C, H, W]` image, or a batch `[N, C, H, W]` whose
// images all get the same draw), as torchvision v2 does, rather than bytes: `.toTensor` comes
// first, then the geometry and colour transforms, then `.normalize` and `.randomErasing`.
// One representation keeps every transform composable with every other, and floats are what
// bilinear interpolation, blurs and colour blends compute in anyway. Each loop runs on raw
// buffers (ImageKernels.swift); a random transform draws only from the generator it is called
// with, in a fixed order, so the same generator gives the same output bit for bit.

/// Four padding sizes, in torchvision's order: one number for all sides, `[horizontal,
/// vertical]`, or `[left, top, right, bottom]`.
public struct ImagePadding: Equatable, Sendable, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral {
    /// Columns added before the first.
    public var left: Int
    /// Rows added above the first.
    public var top: Int
    /// Columns added after the last.
    public var right: Int
    /// Rows added below the last.
    public var bottom: Int

    /// Pads each side by its own size.
    public init(left: Int, top: Int, right: Int, bottom: Int) {
        require(left >= 0 && top >= 0 && right >= 0 && bottom >= 0,
                "ImagePadding: sizes must be non-negative, got \([left, top, right, bottom])")
        (self.left, self.top, self.right, self.bottom) = (left, top, right, bottom)
    }

    /// The same size on every side.
    public init(integerLiteral value: Int) { self.init(left: value, top: value, right: value, bottom: value) }

    /// `[all]`, `[horizontal, vertical]` or `[left, top, right, bottom]`.
    public init(arrayLiteral elements: Int...) {
        require([1, 2, 4].contains(elements.count), "ImagePadding: expected 1, 2 or 4 sizes, got \(elements)")
        switch elements.count {
        case 1: self.init(integerLiteral: elements[0])
        case 2: self.init(left: elements[0], top: elements[1], right: elements[0], bottom: elements[1])
        default: self.init(left: elements[0], top: elements[1], right: elements[2], bottom: elements[3])
        }
    }
}

/// What ``Transform/randomErasing(probability:scale:ratio:value:)`` writes into its box.
public enum ErasingValue: Sendable, Equatable {
    /// One value everywhere (torchvision's default, 0).
    case constant(Double)
    /// Standard normal noise, one draw per erased element (torchvision's `value="random"`).
    case random
}

extension Generator {
    /// A uniform draw from `range`.
    func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + (range.upperBound - range.lowerBound) * nextDouble()
    }

    /// A uniform integer in `0...upper`.
    func integer(upTo upper: Int) -> Int { nextInt(below: upper + 1) }
}

func checkRange(_ range: ClosedRange<Double>, within bounds: ClosedRange<Double>, _ what: String, _ op: String) {
    require(range.lowerBound.isFinite && range.upperBound.isFinite && bounds.contains(range.lowerBound)
                && bounds.contains(range.upperBound),
            "\(op): \(what) must lie in \(bounds), got \(range)")
}

extension Transform where Input == Tensor, Output == Tensor {
    // MARK: Crops and flips

    /// The crop of `height × width` pixels whose top-left corner is at `top, left`
    /// (torchvision's `F.crop`); where it reaches past the image it reads `border`
    /// (zeros by default, as torchvision).
    public static func crop(top: Int, left: Int, height: Int, width: Int,
                            border: BorderMode = .constant(0)) -> Transform {
        Transform { cropped($0, top: top, left: left, height: height, width: width, mode: border, op: "crop") }
    }

    /// The image padded on each side, the new pixels read through `border` (torchvision's
    /// `Pad`, which fills with 0 by default).
    public static func pad(_ padding: ImagePadding, border: BorderMode = .constant(0)) -> Transform {
        Transform { image in
            let g = imageGeometry(image, "pad")
            return cropped(image, top: -padding.top, left: -padding.left, height: g.height + padding.top + padding.bottom,
                           width: g.width + padding.left + padding.right, mode: border, op: "pad")
        }
    }

    /// The central crop of `size` (torchvision's `CenterCrop`: the offsets are
    /// `round((H − h) / 2)` and `round((W − w) / 2)`, and a crop larger than the image is padded
    /// with zeros).
    public static func centerCrop(size: Size2D) -> Transform {
        Transform { image in
            let g = imageGeometry(image, "centerCrop")
            let top = Int((Double(g.height - size.height) / 2).rounded())
            let left = Int((Double(g.width - size.width) / 2).rounded())
            return cropped(image, top: top, left: left, height: size.height, width: size.width, mode: .constant(0), op: "centerCrop")
        }
    }

    /// A crop of `size` at a uniformly random position of the image padded by `padding`
    /// (torchvision's `RandomCrop`): the usual CIFAR and MNIST augmentation is
    /// `.randomCrop(size: 32, padding: 4)`.
    ///
    /// The pad is never built: the crop reads past the border through `border`.
    /// - Parameters:
    ///   - size: the output height and width.
    ///   - padding: added around the image first (default none).
    ///   - border: how the padding is filled: `.constant(fill)` (torchvision's default, 0),
    ///     `.edge`, `.reflect` or `.symmetric`.
    ///   - padIfNeeded: pad an image smaller than `size` up to it (torchvision's `pad_if_needed`).
    public static func randomCrop(size: Size2D, padding: ImagePadding = 0, border: BorderMode = .constant(0),
                                  padIfNeeded: Bool = false) -> Transform {
        require(size.height > 0 && size.width > 0, "randomCrop: the size must be positive, got \(size)")
        return Transform(random: { image, generator in
            let g = imageGeometry(image, "randomCrop")
            var (top, left) = (padding.top, padding.left)
            var height = g.height + padding.top + padding.bottom
            var width = g.width + padding.left + padding.right
            if padIfNeeded && height < size.height {
                top += size.height - height
                height += 2 * (size.height - height)
            }
            if padIfNeeded && width < size.width {
                left += size.width - width
                width += 2 * (size.width - width)
            }
            require(height >= size.height && width >= size.width,
                    "randomCrop: a crop of \(size) does not fit in the padded image of \(height) × \(width)")
            let i = generator.integer(upTo: height - size.height)
            let j = generator.integer(upTo: width - size.width)
            return cropped(image, top: i - top, left: j - left, height: size.height, width: size.width,
                           mode: border, op: "randomCrop")
        })
    }

    /// The image mirrored left to right.
    public static var horizontalFlip: Transform { Transform { flipped($0, horizontal: true) } }

    /// The image mirrored top to bottom.
    public static var verticalFlip: Transform { Transform { flipped($0, horizontal: false) } }

    /// Mirrors the image left to right with probability `probability` (torchvision's
    /// `RandomHorizontalFlip`, p = 0.5).
    public static func randomHorizontalFlip(probability: Double = 0.5) -> Transform {
        randomApply([.horizontalFlip], probability: probability)
    }

    /// Mirrors the image top to bottom with probability `probability` (torchvision's
    /// `RandomVerticalFlip`, p = 0.5).
    public static func randomVerticalFlip(probability: Double = 0.5) -> Transform {
        randomApply([.verticalFlip], probability: probability)
    }

    // MARK: Resizing

    /// The region `top, left, height, width` (inside the image) resized to `size`
    /// (torchvision's `F.resized_crop`, without antialiasing).
    public static func resizedCrop(top: Int, left: Int, height: Int, width: Int, size: Size2D,
                                   interpolation: Interpolation = .bilinear) -> Transform {
        require(size.height > 0 && size.width > 0, "resizedCrop: the size must be positive, got \(size)")
        return Transform { image in
            resizedRegion(image, top: top, left: left, height: height, width: width, size: size,
                          interpolation: interpolation, op: "resizedCrop")
        }
    }

    /// The image resized to `size` (torchvision's `Resize` with an exact size, without
    /// antialiasing).
    public static func resize(_ size: Size2D, interpolation: Interpolation = .bilinear) -> Transform {
        require(size.height > 0 && size.width > 0, "resize: the size must be positive, got \(size)")
        return Transform { image in
            let g = imageGeometry(image, "resize")
            return resizedRegion(image, top: 0, left: 0, height: g.height, width: g.width, size: size,
                                 interpolation: interpolation, op: "resize")
        }
    }

    /// A random region resized to `size` (torchvision's `RandomResizedCrop`, the ImageNet
    /// augmentation).
    ///
    /// The region covers a fraction of the image's area drawn uniformly from `scale` and has
    /// an aspect ratio (width / height) drawn log-uniformly from `ratio`, at a uniform
    /// position; after 10 draws that do not fit, it is the central crop with the ratio
    /// clamped into `ratio` (torchvision's fallback).
    /// - Parameters:
    ///   - size: the output height and width.
    ///   - scale: the range of area fractions (torchvision's default 0.08...1).
    ///   - ratio: the range of aspect ratios (default 3/4...4/3).
    ///   - interpolation: bilinear by default.
    public static func randomResizedCrop(size: Size2D, scale: ClosedRange<Double> = 0.08...1,
                                         ratio: ClosedRange<Double> = (3.0 / 4)...(4.0 / 3),
                                         interpolation: Interpolation = .bilinear) -> Transform {
        require(size.height > 0 && size.width > 0, "randomResizedCrop: the size must be positive, got \(size)")
        checkRange(scale, within: 0...1, "the scale", "randomResizedCrop")
        checkRange(ratio, within: Double.leastNonzeroMagnitude...Double.greatestFiniteMagnitude, "the ratio", "randomResizedCrop")
        return Transform(random: { image, generator in
            let g = imageGeometry(image, "randomResizedCrop")
            let region = resizedCropRegion(height: g.height, width: g.width, scale: scale, ratio: ratio, generator: generator)
            return resizedRegion(image, top: region.top, left: region.left, height: region.height, width: region.width,
                                 size: size, interpolation: interpolation, op: "randomResizedCrop")
        })
    }

    // MARK: Rotations and affine maps

    /// The image turned by `degrees` counter-clockwise about its center, keeping its size;
    /// pixels read from outside get `fill` (torchvision's `F.rotate`).
    public static func rotation(degrees: Double, interpolation: Interpolation = .nearest, fill: Double = 0) -> Transform {
        affine(angle: degrees, interpolation: interpolation, fill: fill)
    }

    /// The image under an affine map about its center, keeping its size: sheared by `shear`
    /// degrees (along x, then along y), turned by `angle` degrees counter-clockwise, scaled by
    /// `scale`, then moved by `translate` pixels (x right, y down); pixels read from outside
    /// get `fill`. torchvision's `F.affine`, whose angle counts clockwise.
    public static func affine(angle: Double = 0, translate: (x: Double, y: Double) = (0, 0), scale: Double = 1,
                              shear: (x: Double, y: Double) = (0, 0), interpolation: Interpolation = .nearest,
                              fill: Double = 0) -> Transform {
        require(scale > 0 && scale.isFinite, "affine: the scale must be positive, got \(scale)")
        let matrix = inverseAffineMatrix(angle: angle, translation: translate, scale: scale, shear: shear)
        return Transform { image in
            mapImage(image, imageGeometry(image, "affine"), AffineKernel(matrix: matrix, interpolation: interpolation, fill: fill))
        }
    }

    /// Turns the image by an angle drawn uniformly from `degrees` (torchvision's
    /// `RandomRotation`, nearest interpolation and fill 0 by default).
    public static func randomRotation(degrees: ClosedRange<Double>, interpolation: Interpolation = .nearest,
                                      fill: Double = 0) -> Transform {
        randomAffine(degrees: degrees, interpolation: interpolation, fill: fill)
    }

    /// Turns the image by an angle drawn uniformly from `-degrees...degrees`.
    public static func randomRotation(degrees: Double, interpolation: Interpolation = .nearest,
                                      fill: Double = 0) -> Transform {
        require(degrees >= 0, "randomRotation: a single angle must be non-negative, got \(degrees)")
        return randomRotation(degrees: -degrees...degrees, interpolation: interpolation, fill: fill)
    }

    /// A random affine map about the image center (torchvision's `RandomAffine`).
    ///
    /// The angle is drawn uniformly from `degrees`; the shift from
    /// `±translate.x · width` and `±translate.y · height`, rounded to whole pixels; the scale
    /// uniformly from `scale`; the shear along x uniformly from `shear` (degrees), none along y
    /// (torchvision's draws, in its order).
    /// - Parameters:
    ///   - degrees: the range of angles (use `0...0` for none).
    ///   - translate: the largest shifts as fractions of the width and height, in [0, 1].
    ///   - scale: the range of scale factors, positive.
    ///   - shear: the range of x shears in degrees.
    ///   - interpolation: nearest by default, as torchvision.
    ///   - fill: the value of pixels read from outside the image.
    public static func randomAffine(degrees: ClosedRange<Double>, translate: (x: Double, y: Double)? = nil,
                                    scale: ClosedRange<Double>? = nil, shear: ClosedRange<Double>? = nil,
                                    interpolation: Interpolation = .nearest, fill: Double = 0) -> Transform {
        checkRange(degrees, within: -3600...3600, "the angles", "randomAffine")
        if let translate {
            require((0...1).contains(translate.x) && (0...1).contains(translate.y),
                    "randomAffine: translate fractions must be in [0, 1], got \(translate)")
        }
        if let scale { checkRange(scale, within: Double.leastNonzeroMagnitude...1e6, "the scales", "randomAffine") }
        if let shear { checkRange(shear, within: -89...89, "the shears", "randomAffine") }
        return Transform(random: { image, generator in
            let g = imageGeometry(image, "randomAffine")
            let angle = generator.uniform(degrees)
            var shift = (x: 0.0, y: 0.0)
            if let translate {
                let (dx, dy) = (translate.x * Double(g.width), translate.y * Double(g.height))
                shift = (generator.uniform(-dx...dx).rounded(), generator.uniform(-dy...dy).rounded())
            }
            let factor = scale.map { generator.uniform($0) } ?? 1
            let shearX = shear.map { generator.uniform($0) } ?? 0
            let matrix = inverseAffineMatrix(angle: angle, translation: shift, scale: factor, shear: (shearX, 0))
            return mapImage(image, g, AffineKernel(matrix: matrix, interpolation: interpolation, fill: fill))
        })
    }

    // MARK: Colour

    /// Multiplies every value by `factor`, clamped to [0, 1] (torchvision's
    /// `adjust_brightness`).
    public static func brightness(_ factor: Double) -> Transform {
        require(factor >= 0, "brightness: the factor must be non-negative, got \(factor)")
        return Transform { colorAdjusted($0, [.brightness(factor)], op: "brightness") }
    }

    /// Blends each image with the mean of its grayscale, `factor · x + (1 − factor) · mean`,
    /// clamped to [0, 1] (torchvision's `adjust_contrast`).
    public static func contrast(_ factor: Double) -> Transform {
        require(factor >= 0, "contrast: the factor must be non-negative, got \(factor)")
        return Transform { colorAdjusted($0, [.contrast(factor)], op: "contrast") }
    }

    /// Blends each pixel with its grayscale `0.299 r + 0.587 g + 0.114 b`,
    /// `factor · x + (1 − factor) · gray`, clamped to [0, 1]; a one-channel image is unchanged
    /// (torchvision's `adjust_saturation`).
    public static func saturation(_ factor: Double) -> Transform {
        require(factor >= 0, "saturation: the factor must be non-negative, got \(factor)")
        return Transform { colorAdjusted($0, [.saturation(factor)], op: "saturation") }
    }

    /// Random changes of brightness, contrast and saturation, in a random order
    /// (torchvision's `ColorJitter`, without hue).
    ///
    /// A strength `s` draws the factor uniformly from `max(0, 1 − s)...1 + s`; `nil` (the
    /// default) leaves that property alone. Images are `[..., C, H, W]` with 1 or 3 channels
    /// and values in [0, 1] (jitter before normalizing).
    /// - Parameters:
    ///   - brightness: how much to brighten or darken.
    ///   - contrast: how much to change the contrast.
    ///   - saturation: how much to change the saturation.
    public static func colorJitter(brightness: Double? = nil, contrast: Double? = nil,
                                   saturation: Double? = nil) -> Transform {
        for (name, strength) in [("brightness", brightness), ("contrast", contrast), ("saturation", saturation)] {
            if let strength { require(strength >= 0 && strength.isFinite, "colorJitter: \(name) must be non-negative, got \(strength)") }
        }
        func range(_ strength: Double?) -> ClosedRange<Double>? {
            strength.map { Swift.max(0, 1 - $0)...(1 + $0) }
        }
        let ranges = [range(brightness), range(contrast), range(saturation)]
        return Transform(random: { image, generator in
            // torchvision's order of draws: the order, then each factor.
            let order = generator.permutation(3)
            let factors = ranges.map { $0.map { generator.uniform($0) } }
            var adjustments: [ColorAdjustment] = []
            for k in order {
                guard let factor = factors[k] else { continue }
                adjustments.append([.brightness(factor), .contrast(factor), .saturation(factor)][k])
            }
            return adjustments.isEmpty ? image : colorAdjusted(image, adjustments, op: "colorJitter")
        })
    }

    // MARK: Blur and erasing

    /// A Gaussian blur of standard deviation `sigma` over a `kernelSize` window (odd height
    /// and width), the border reflected (torchvision's `F.gaussian_blur`).
    public static func gaussianBlur(kernelSize: Size2D, sigma: Double) -> Transform {
        checkBlur(kernelSize, sigma...sigma)
        return Transform { blurred($0, kernelSize: kernelSize, sigma: sigma) }
    }

    /// A Gaussian blur whose standard deviation is drawn uniformly from `sigma` (torchvision's
    /// `GaussianBlur`, whose default range is 0.1...2).
    public static func gaussianBlur(kernelSize: Size2D, sigma: ClosedRange<Double> = 0.1...2) -> Transform {
        checkBlur(kernelSize, sigma)
        return Transform(random: { image, generator in
            blurred(image, kernelSize: kernelSize, sigma: generator.uniform(sigma))
        })
    }

    /// Sets the box `height × width` at `top, left` of every channel to `value`
    /// (torchvision's `F.erase`).
    public static func erase(top: Int, left: Int, height: Int, width: Int, value: Double = 0) -> Transform {
        Transform { image in
            let g = imageGeometry(image, "erase")
            require(top >= 0 && left >= 0 && height >= 0 && width >= 0 && top + height <= g.height && left + width <= g.width,
                    "erase: the box \(height) × \(width) at (\(top), \(left)) is not inside the image of \(g.height) × \(g.width)")
            return mapImage(image, g, EraseKernel(top: top, left: left, height: height, width: width, value: value, values: nil))
        }
    }

    /// Erases a random box with probability `probability` (torchvision's `RandomErasing`,
    /// Zhong et al. 2017, with its defaults).
    ///
    /// The box covers a fraction of the area drawn uniformly from `scale`, with an aspect
    /// ratio (height / width) drawn log-uniformly from `ratio`, at a uniform position, across
    /// every channel; after 10 draws that do not fit the image is left as it is.
    /// - Parameters:
    ///   - probability: how often an image is erased (0.5).
    ///   - scale: the range of area fractions (0.02...0.33).
    ///   - ratio: the range of aspect ratios (0.3...3.3).
    ///   - value: what the box holds (0; or normal noise).
    public static func randomErasing(probability: Double = 0.5, scale: ClosedRange<Double> = 0.02...0.33,
                                     ratio: ClosedRange<Double> = 0.3...3.3, value: ErasingValue = .constant(0)) -> Transform {
        require((0...1).contains(probability), "randomErasing: the probability must be in [0, 1], got \(probability)")
        checkRange(scale, within: 0...1, "the scale", "randomErasing")
        checkRange(ratio, within: Double.leastNonzeroMagnitude...Double.greatestFiniteMagnitude, "the ratio", "randomErasing")
        let logRatio = Double.luzLog(ratio.lowerBound)...Double.luzLog(ratio.upperBound)
        return Transform(random: { image, generator in
            guard generator.nextDouble() < probability else { return image }
            let g = imageGeometry(image, "randomErasing")
            let area = Double(g.height * g.width)
            for _ in 0..<10 {
                let target = area * generator.uniform(scale)
                let aspect = Double.luzExp(generator.uniform(logRatio))
                let h = Int((target * aspect).squareRoot().rounded())
                let w = Int((target / aspect).squareRoot().rounded())
                guard h < g.height && w < g.width else { continue }
                let top = generator.integer(upTo: g.height - h)
                let left = generator.integer(upTo: g.width - w)
                var values: [Double]?
                if value == .random { values = (0..<(g.planes * h * w)).map { _ in generator.nextNormal() } }
                let constant: Double = if case .constant(let v) = value { v } else { 0 }
                return mapImage(image, g, EraseKernel(top: top, left: left, height: h, width: w, value: constant, values: values))
            }
            return image
        })
    }
}

func checkBlur(_ kernelSize: Size2D, _ sigma: ClosedRange<Double>) {
    require(kernelSize.height > 0 && kernelSize.width > 0 && kernelSize.height % 2 == 1 && kernelSize.width % 2 == 1,
            "gaussianBlur: the kernel size must be odd and positive, got \(kernelSize)")
    require(sigma.lowerBound > 0 && sigma.upperBound.isFinite, "gaussianBlur: sigma must be positive, got \(sigma)")
}

func blurred(_ image: Tensor, kernelSize: Size2D, sigma: Double) -> Tensor {
    let kernel = SeparableBlurKernel(vertical: gaussianKernel(size: kernelSize.height, sigma: sigma),
                                     horizontal: gaussianKernel(size: kernelSize.width, sigma: sigma))
    return mapImage(image, imageGeometry(image, "gaussianBlur"), kernel)
}

func resizedRegion(_ image: Tensor, top: Int, left: Int, height: Int, width: Int, size: Size2D,
                   interpolation: Interpolation, op: String) -> Tensor {
    var g = imageGeometry(image, op)
    require(top >= 0 && left >= 0 && height > 0 && width > 0 && top + height <= g.height && left + width <= g.width,
            "\(op): the region \(height) × \(width) at (\(top), \(left)) is not inside the image of \(g.height) × \(g.width)")
    g.outputHeight = size.height
    g.outputWidth = size.width
    return mapImage(image, g, ResizeKernel(top: top, left: left, height: height, width: width, interpolation: interpolation))
}

/// The region of ``Transform/randomResizedCrop(size:scale:ratio:interpolation:)``
/// (torchvision's `RandomResizedCrop.get_params`).
func resizedCropRegion(height: Int, width: Int, scale: ClosedRange<Double>, ratio: ClosedRange<Double>,
                       generator: Generator) -> (top: Int, left: Int, height: Int, width: Int) {
    let area = Double(height * width)
    let logRatio = Double.luzLog(ratio.lowerBound)...Double.luzLog(ratio.upperBound)
    for _ in 0..<10 {
        let target = area * generator.uniform(scale)
        let aspect = Double.luzExp(generator.uniform(logRatio))
        let w = Int((target * aspect).squareRoot().rounded())
        let h = Int((target / aspect).squareRoot().rounded())
        if w > 0 && h > 0 && w <= width && h <= height {
            let top = generator.integer(upTo: height - h)
            let left = generator.integer(upTo: width - w)
            return (top, left, h, w)
        }
    }
    let imageRatio = Double(width) / Double(height)
    var (h, w) = (height, width)
    if imageRatio < ratio.lowerBound {
        h = Int((Double(width) / ratio.lowerBound).rounded())
    } else if imageRatio > ratio.upperBound {
        w = Int((Double(height) * ratio.upperBound).rounded())
    }
    return ((height - h) / 2, (width - w) / 2, h, w)
}
