import LuzTensor

// The loops behind the image transforms of Transform+Augmentation.swift. They work on the raw
// buffers of a float tensor whose last two dimensions are the rows and columns of an image
// (`[..., H, W]`); every leading element (channel, batch position) is one plane and gets the
// same geometry. A kernel is its arithmetic only: `mapImage` checks the tensor, dispatches on
// the dtype and allocates the output.

/// How the pixels outside an image are filled when a crop, a pad or a blur reaches past its
/// border (torchvision's `padding_mode`).
public enum BorderMode: Sendable, Equatable {
    /// A constant value (torchvision's `"constant"`, with `fill`).
    case constant(Double)
    /// The edge pixel repeated (torchvision's `"edge"`).
    case edge
    /// The image mirrored about its edge pixel, which is not repeated: a row `[1, 2, 3]` padded
    /// by 2 on the left reads `[3, 2, 1, 2, 3]` (torchvision's `"reflect"`).
    case reflect
    /// The image mirrored with its edge pixel repeated: `[2, 1, 1, 2, 3]` (torchvision's
    /// `"symmetric"`).
    case symmetric
}

/// How a resize or an affine warp reads between pixels (torchvision's `InterpolationMode`).
public enum Interpolation: Sendable, Equatable {
    /// The nearest pixel.
    case nearest
    /// The four nearest pixels, weighted by distance (half-pixel centers, PyTorch's
    /// `align_corners=False`), without antialiasing.
    case bilinear
}

/// The shape of an image tensor: `planes` images of `height × width` in, of
/// `outputHeight × outputWidth` out.
struct ImageGeometry {
    let leading: [Int]
    let planes: Int
    let height: Int
    let width: Int
    var outputHeight: Int
    var outputWidth: Int

    var outputShape: [Int] { leading + [outputHeight, outputWidth] }
}

func imageGeometry(_ tensor: Tensor, _ op: String) -> ImageGeometry {
    let shape = tensor.shape
    require(shape.count >= 2, "\(op): needs an image tensor [..., height, width], got shape \(shape)")
    require(tensor.dtype == .float32 || tensor.dtype == .float64,
            "\(op): needs a floating-point image tensor (convert bytes with .toTensor), got \(tensor.dtype)")
    let (h, w) = (shape[shape.count - 2], shape[shape.count - 1])
    let leading = Array(shape[..<(shape.count - 2)])
    return ImageGeometry(leading: leading, planes: leading.reduce(1, *), height: h, width: w, outputHeight: h, outputWidth: w)
}

/// The scalar types the image kernels run on.
typealias ImageScalar = TensorScalar & BinaryFloatingPoint

/// One image operation: reads `input` (the planes of `geometry`) and writes every element of
/// `output`.
protocol ImageKernel {
    func run<T: ImageScalar>(_ input: UnsafeBufferPointer<T>, _ output: UnsafeMutableBufferPointer<T>, _ geometry: ImageGeometry)
}

/// Runs `kernel` on `tensor`, giving an output of the geometry's output size.
func mapImage<K: ImageKernel>(_ tensor: Tensor, _ geometry: ImageGeometry, _ kernel: K) -> Tensor {
    func run<T: ImageScalar>(_: T.Type) -> Tensor {
        tensor.withUnsafeBufferPointer(as: T.self) { input in
            Tensor(shape: geometry.outputShape) { (output: UnsafeMutableBufferPointer<T>) in
                kernel.run(input, output, geometry)
            }
        }
    }
    return tensor.dtype == .float32 ? run(Float.self) : run(Double.self)
}

/// The pixel read for position `i` of a line of `n` pixels, or -1 for the fill value.
func borderIndex(_ i: Int, _ n: Int, _ mode: BorderMode) -> Int {
    if i >= 0 && i < n { return i }
    switch mode {
    case .constant:
        return -1
    case .edge:
        return i < 0 ? 0 : n - 1
    case .reflect:
        if n == 1 { return 0 }
        let period = 2 * (n - 1)
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - m
    case .symmetric:
        let period = 2 * n
        var m = i % period
        if m < 0 { m += period }
        return m < n ? m : period - 1 - m
    }
}

/// Copies pixels by row and column tables: output `(y, x)` reads input `(rows[y], columns[x])`,
/// or `fill` where either is -1. Crops, pads and flips are this kernel.
struct GatherKernel: ImageKernel {
    let rows: [Int]
    let columns: [Int]
    let fill: Double

    func run<T: ImageScalar>(_ input: UnsafeBufferPointer<T>, _ output: UnsafeMutableBufferPointer<T>, _ g: ImageGeometry) {
        let value = T(fill)
        let (inPlane, outWidth) = (g.height * g.width, g.outputWidth)
        let contiguous = columns.first.map { first in
            first >= 0 && columns.indices.allSatisfy { columns[$0] == first + $0 }
        } ?? false
        rows.withUnsafeBufferPointer { rows in
            columns.withUnsafeBufferPointer { columns in
                var o = 0
                for p in 0..<g.planes {
                    let plane = p * inPlane
                    for y in 0..<rows.count {
                        let r = rows[y]
                        if r < 0 {
                            for _ in 0..<outWidth { output[o] = value; o += 1 }
                        } else if contiguous {
                            let start = plane + r * g.width + columns[0]
                            for x in 0..<outWidth { output[o + x] = input[start + x] }
                            o += outWidth
                        } else {
                            let row = plane + r * g.width
                            for x in 0..<outWidth {
                                let c = columns[x]
                                output[o] = c < 0 ? value : input[row + c]
                                o += 1
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The crop `top..<top+height`, `left..<left+width` of an image (which may reach past its
/// border, read through `mode`).
func cropped(_ tensor: Tensor, top: Int, left: Int, height: Int, width: Int, mode: BorderMode, op: String) -> Tensor {
    var g = imageGeometry(tensor, op)
    require(height > 0 && width > 0, "\(op): the output size must be positive, got \(height) × \(width)")
    g.outputHeight = height
    g.outputWidth = width
    let fill: Double = if case .constant(let value) = mode { value } else { 0 }
    let rows = (0..<height).map { borderIndex(top + $0, g.height, mode) }
    let columns = (0..<width).map { borderIndex(left + $0, g.width, mode) }
    return mapImage(tensor, g, GatherKernel(rows: rows, columns: columns, fill: fill))
}

/// The image mirrored left to right (`horizontal`) or top to bottom.
func flipped(_ tensor: Tensor, horizontal: Bool) -> Tensor {
    let g = imageGeometry(tensor, horizontal ? "horizontalFlip" : "verticalFlip")
    let rows = horizontal ? Array(0..<g.height) : Array((0..<g.height).reversed())
    let columns = horizontal ? Array((0..<g.width).reversed()) : Array(0..<g.width)
    return mapImage(tensor, g, GatherKernel(rows: rows, columns: columns, fill: 0))
}

/// Resizes the region `top, left, height, width` (inside the image) to the output size.
struct ResizeKernel: ImageKernel {
    let top: Int
    let left: Int
    let height: Int
    let width: Int
    let interpolation: Interpolation

    /// Source line, next line and weight of the next one for each output position
    /// (PyTorch's `upsample_bilinear2d` / `upsample_nearest2d` source indices).
    static func taps(input: Int, output: Int, _ interpolation: Interpolation) -> [(Int, Int, Double)] {
        let scale = Double(input) / Double(output)
        return (0..<output).map { d in
            switch interpolation {
            case .nearest:
                let s = Swift.min(Int((Double(d) * scale).rounded(.down)), input - 1)
                return (s, s, 0)
            case .bilinear:
                let real = Swift.max(scale * (Double(d) + 0.5) - 0.5, 0)
                let s = Int(real)
                let next = s < input - 1 ? s + 1 : s
                return (s, next, real - Double(s))
            }
        }
    }

    func run<T: ImageScalar>(_ input: UnsafeBufferPointer<T>, _ output: UnsafeMutableBufferPointer<T>, _ g: ImageGeometry) {
        let rowTaps = ResizeKernel.taps(input: height, output: g.outputHeight, interpolation)
        let columnTaps = ResizeKernel.taps(input: width, output: g.outputWidth, interpolation)
        let inPlane = g.height * g.width
        var o = 0
        for p in 0..<g.planes {
            let plane = p * inPlane
            for (r0, r1, ly) in rowTaps {
                let row0 = plane + (top + r0) * g.width + left
                let row1 = plane + (top + r1) * g.width + left
                let (wy1, wy0) = (T(ly), 1 - T(ly))
                for (c0, c1, lx) in columnTaps {
                    let (wx1, wx0) = (T(lx), 1 - T(lx))
                    let upper = wx0 * input[row0 + c0] + wx1 * input[row0 + c1]
                    let lower = wx0 * input[row1 + c0] + wx1 * input[row1 + c1]
                    output[o] = wy0 * upper + wy1 * lower
                    o += 1
                }
            }
        }
    }
}

/// An affine warp: output pixel `(x, y)` reads the input at `matrix · (u, v, 1)`, where `(u, v)`
/// are the pixel's coordinates from the image center (torchvision's `affine` on tensors, whose
/// grid has pixel centers at half-integers); pixels read from outside the image get `fill`.
struct AffineKernel: ImageKernel {
    /// The inverse map, output to input, `[a, b, c, d, e, f]`: `x' = a u + b v + c`, `y' = d u + e v + f`.
    let matrix: [Double]
    let interpolation: Interpolation
    let fill: Double

    func run<T: ImageScalar>(_ input: UnsafeBufferPointer<T>, _ output: UnsafeMutableBufferPointer<T>, _ g: ImageGeometry) {
        let (h, w) = (g.height, g.width)
        let (halfW, halfH) = (Double(w) / 2, Double(h) / 2)
        let value = T(fill)
        let inPlane = h * w
        @inline(__always) func read(_ plane: Int, _ y: Int, _ x: Int) -> T {
            y >= 0 && y < h && x >= 0 && x < w ? input[plane + y * w + x] : value
        }
        var o = 0
        for p in 0..<g.planes {
            let plane = p * inPlane
            for y in 0..<g.outputHeight {
                let v = Double(y) + 0.5 - halfH
                for x in 0..<g.outputWidth {
                    let u = Double(x) + 0.5 - halfW
                    let sx = matrix[0] * u + matrix[1] * v + matrix[2] + halfW - 0.5
                    let sy = matrix[3] * u + matrix[4] * v + matrix[5] + halfH - 0.5
                    switch interpolation {
                    case .nearest:
                        let ix = sx.rounded(.toNearestOrEven), iy = sy.rounded(.toNearestOrEven)
                        output[o] = abs(ix) < 1e9 && abs(iy) < 1e9 ? read(plane, Int(iy), Int(ix)) : value
                    case .bilinear:
                        let fx = sx.rounded(.down), fy = sy.rounded(.down)
                        guard abs(fx) < 1e9 && abs(fy) < 1e9 else { output[o] = value; break }
                        let (x0, y0) = (Int(fx), Int(fy))
                        let (lx, ly) = (T(sx - fx), T(sy - fy))
                        let upper = (1 - lx) * read(plane, y0, x0) + lx * read(plane, y0, x0 + 1)
                        let lower = (1 - lx) * read(plane, y0 + 1, x0) + lx * read(plane, y0 + 1, x0 + 1)
                        output[o] = (1 - ly) * upper + ly * lower
                    }
                    o += 1
                }
            }
        }
    }
}

/// The inverse of the affine map that shears, rotates, scales and translates about the image
/// center: the matrix ``AffineKernel`` reads with.
///
/// In image coordinates (y down, from the center), the forward map sends `p` to
/// `scale · R · Shy · Shx · p + translation`: `Shx` moves `x` by `tan(shear.x) · y`, `Shy`
/// moves `y` by `tan(shear.y) · x`, and `R` turns by `angle` degrees counter-clockwise as seen
/// on screen (torchvision's `rotate`; its `affine` counts the angle the other way, which a
/// symmetric random range does not see). Multiples of 90° use exact sines and cosines, so a
/// quarter turn moves pixels exactly.
func inverseAffineMatrix(angle: Double, translation: (x: Double, y: Double), scale: Double,
                         shear: (x: Double, y: Double)) -> [Double] {
    func cosSin(_ degrees: Double) -> (Double, Double) {
        let quarter = degrees / 90
        if quarter == quarter.rounded() && abs(quarter) < 1e9 {
            let k = ((Int(quarter) % 4) + 4) % 4
            return [(1.0, 0.0), (0.0, 1.0), (-1.0, 0.0), (0.0, -1.0)][k]
        }
        let radians = degrees * Double.pi / 180
        return (Double.luzCos(radians), Double.luzSin(radians))
    }
    func tangent(_ degrees: Double) -> Double {
        let (c, s) = cosSin(degrees)
        return s / c
    }
    let (c, s) = cosSin(angle)
    let (hx, hy) = (tangent(shear.x), tangent(shear.y))
    // Shy · Shx = [[1, hx], [hy, 1 + hx·hy]]; counter-clockwise on screen with y down is
    // [[c, s], [-s, c]].
    let a00 = scale * (c + s * hy), a01 = scale * (c * hx + s * (1 + hx * hy))
    let a10 = scale * (-s + c * hy), a11 = scale * (-s * hx + c * (1 + hx * hy))
    let determinant = a00 * a11 - a01 * a10
    let (i00, i01, i10, i11) = (a11 / determinant, -a01 / determinant, -a10 / determinant, a00 / determinant)
    let (tx, ty) = translation
    return [i00, i01, -(i00 * tx + i01 * ty), i10, i11, -(i10 * tx + i11 * ty)]
}

/// A separable convolution with the same 1-D kernel shapes over every plane, the border read
/// through reflection (torchvision's `gaussian_blur`, which pads with `"reflect"`).
struct SeparableBlurKernel: ImageKernel {
    /// The kernel along the rows (applied down the columns), of odd length.
    let vertical: [Double]
    /// The kernel along the columns, of odd length.
    let horizontal: [Double]

    func run<T: ImageScalar>(_ input: UnsafeBufferPointer<T>, _ output: UnsafeMutableBufferPointer<T>, _ g: ImageGeometry) {
        let (h, w) = (g.height, g.width)
        let kx = horizontal.map { T($0) }, ky = vertical.map { T($0) }
        let (px, py) = (kx.count / 2, ky.count / 2)
        let columnTaps = (0..<w).map { x in (0..<kx.count).map { borderIndex(x + $0 - px, w, .reflect) } }
        let rowTaps = (0..<h).map { y in (0..<ky.count).map { borderIndex(y + $0 - py, h, .reflect) } }
        var across = [T](repeating: 0, count: h * w)
        for p in 0..<g.planes {
            let plane = p * h * w
            for y in 0..<h {
                for x in 0..<w {
                    var sum: T = 0
                    let taps = columnTaps[x]
                    for i in 0..<kx.count { sum += kx[i] * input[plane + y * w + taps[i]] }
                    across[y * w + x] = sum
                }
            }
            for y in 0..<h {
                let taps = rowTaps[y]
                for x in 0..<w {
                    var sum: T = 0
                    for j in 0..<ky.count { sum += ky[j] * across[taps[j] * w + x] }
                    output[plane + y * w + x] = sum
                }
            }
        }
    }
}

/// The normalized Gaussian `exp(-x² / 2σ²)` sampled at the `size` integer offsets around 0
/// (torchvision's `_get_gaussian_kernel1d`).
func gaussianKernel(size: Int, sigma: Double) -> [Double] {
    let half = Double(size - 1) / 2
    let values = (0..<size).map { i -> Double in
        let x = (Double(i) - half) / sigma
        return Double.luzExp(-0.5 * x * x)
    }
    let total = values.reduce(0, +)
    return values.map { $0 / total }
}

/// Copies the image and sets the box `top, left, height, width` of every plane to `values`
/// (one per boxed element, plane by plane) or to `value`.
struct EraseKernel: ImageKernel {
    let top: Int
    let left: Int
    let height: Int
    let width: Int
    let value: Double
    let values: [Double]?

    func run<T: ImageScalar>(_ input: UnsafeBufferPointer<T>, _ output: UnsafeMutableBufferPointer<T>, _ g: ImageGeometry) {
        _ = output.initialize(from: input)
        let constant = T(value)
        var k = 0
        for p in 0..<g.planes {
            for y in top..<(top + height) {
                let row = (p * g.height + y) * g.width
                for x in left..<(left + width) {
                    output[row + x] = values.map { T($0[k]) } ?? constant
                    k += 1
                }
            }
        }
    }
}

/// The colour adjustments of ``Transform/colorJitter(brightness:contrast:saturation:)``, in
/// the order given, on images of `channels` channels (1 or 3, the third dimension from the
/// end); every result is clamped to [0, 1], the range of a float image (torchvision's
/// `_blend`).
enum ColorAdjustment {
    /// `x · factor`.
    case brightness(Double)
    /// `factor · x + (1 − factor) · mean(gray(image))`.
    case contrast(Double)
    /// `factor · x + (1 − factor) · gray(pixel)`; an image of one channel is unchanged.
    case saturation(Double)
}

/// ITU-R 601-2 luma, the weights of PIL's `convert("L")` (torchvision's tensor path rounds
/// the red weight to 0.2989).
let lumaWeights = (red: 0.299, green: 0.587, blue: 0.114)

func colorAdjusted(_ tensor: Tensor, _ adjustments: [ColorAdjustment], op: String) -> Tensor {
    let g = imageGeometry(tensor, op)
    let shape = tensor.shape
    let channels = shape.count >= 3 ? shape[shape.count - 3] : 1
    require(channels == 1 || channels == 3, "\(op): needs 1 or 3 channels (the third dimension from the end), got shape \(shape)")
    let images = g.planes / channels
    let pixels = g.height * g.width
    func run<T: ImageScalar>(_: T.Type) -> Tensor {
        tensor.withUnsafeBufferPointer(as: T.self) { input in
            Tensor(shape: shape) { (output: UnsafeMutableBufferPointer<T>) in
                _ = output.initialize(from: input)
                let (wr, wg, wb) = (T(lumaWeights.red), T(lumaWeights.green), T(lumaWeights.blue))
                @inline(__always) func clamp(_ x: T) -> T { Swift.min(Swift.max(x, 0), 1) }
                for image in 0..<images {
                    let base = image * channels * pixels
                    for adjustment in adjustments {
                        switch adjustment {
                        case .brightness(let factor):
                            let f = T(factor)
                            for i in base..<(base + channels * pixels) { output[i] = clamp(f * output[i]) }
                        case .contrast(let factor):
                            var sum: T = 0
                            if channels == 1 {
                                for i in base..<(base + pixels) { sum += output[i] }
                            } else {
                                for i in 0..<pixels {
                                    sum += wr * output[base + i] + wg * output[base + pixels + i] + wb * output[base + 2 * pixels + i]
                                }
                            }
                            let mean = sum / T(pixels)
                            let f = T(factor)
                            let shift = (1 - f) * mean
                            for i in base..<(base + channels * pixels) { output[i] = clamp(f * output[i] + shift) }
                        case .saturation(let factor):
                            guard channels == 3 else { continue }
                            let f = T(factor)
                            for i in 0..<pixels {
                                let (r, gr, b) = (output[base + i], output[base + pixels + i], output[base + 2 * pixels + i])
                                let shift = (1 - f) * (wr * r + wg * gr + wb * b)
                                output[base + i] = clamp(f * r + shift)
                                output[base + pixels + i] = clamp(f * gr + shift)
                                output[base + 2 * pixels + i] = clamp(f * b + shift)
                            }
                        }
                    }
                }
            }
        }
    }
    return tensor.dtype == .float32 ? run(Float.self) : run(Double.self)
}
