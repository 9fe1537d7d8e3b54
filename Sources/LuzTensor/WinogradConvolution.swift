// Winograd's minimal filtering F(2×2, 3×3) for 3×3 convolutions with stride 1.
//
// A 2×2 block of output ("tile") depends on a 4×4 patch of input. Winograd's algorithm computes
// it with 16 multiplications per (input channel, output channel) pair instead of 36:
//     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
// with g the 3×3 filter, d the 4×4 input patch and the constant matrices
//     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]
//     G  = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]
//     Aᵀ = [1 1 1 0; 0 1 −1 −1].
// Summed over input channels, each of the 16 positions ξ of the 4×4 transformed tile becomes one
// matrix product over all the tiles at once:
//     M_ξ (O × T) = U_ξ (O × C) · V_ξ (C × T)
// where U_ξ holds the transformed filters and V_ξ the transformed input tiles. The products do
// 2.25 times fewer multiply-adds than the lowering in `ConvolutionKernels.swift`; the
// transforms are additions over data that stays in cache.
//
// The backward pass is the transpose of the same linear maps. With Ŷ_ξ = (A dY Aᵀ)_ξ the
// transformed output gradient,
//     dV_ξ (C × T) = U_ξᵀ · Ŷ_ξ        → the input gradient is B dV Bᵀ, added over the
//                                        overlapping 4×4 patches
//     dU_ξ (O × C) = Ŷ_ξ · V_ξᵀ        → the weight gradient is Gᵀ dU G,
// so one transform of the output gradient feeds both products, and the weight gradient's
// product runs over all the tiles of a chunk of images (a deep, fast GEMM).
//
// Work goes in blocks of a few images (a few hundred tiles), whose transformed tiles stay in
// the core's cache between the transform and the products; each worker thread takes the next
// block and calls single-threaded GEMMs on its own buffers, as the lowering does.

/// A 3×3, stride-1, single-group convolution computed with Winograd's F(2×2, 3×3).
struct WinogradConvolution {
    /// The convolution; ``applies(to:elementSize:)`` must hold.
    let geometry: ConvGeometry

    /// The 16 positions of a transformed 4×4 tile.
    static let positions = 16

    /// Whether the Winograd kernels compute `geometry`: a 3×3 kernel with stride 1, no
    /// dilation, one group, enough channels on both sides for its products to run near the
    /// GEMM's peak (``ConvolutionTuning/minimumWinogradChannels``), and images small enough that
    /// one image's transformed tiles fit ``ConvolutionTuning/maximumWinogradImageBytes`` (a
    /// block holds at least one whole image).
    static func applies(to geometry: ConvGeometry, elementSize: Int) -> Bool {
        guard geometry.kernelHeight == 3 && geometry.kernelWidth == 3
            && geometry.strideHeight == 1 && geometry.strideWidth == 1
            && geometry.dilationHeight == 1 && geometry.dilationWidth == 1
            && geometry.groups == 1
            && Swift.min(geometry.channels, geometry.outChannels) >= ConvolutionTuning.minimumWinogradChannels
            && geometry.outHeight > 0 && geometry.outWidth > 0
        else { return false }
        // The backward pass's buffers for one image: V, Ŷ and dV.
        let tiles = WinogradConvolution(geometry: geometry).tilesPerImage
        let bytes = positions * (2 * geometry.channels + geometry.outChannels) * tiles * elementSize
        return bytes <= ConvolutionTuning.maximumWinogradImageBytes
    }

    /// Tiles down an output plane, `⌈OH / 2⌉`.
    var tileRows: Int { (geometry.outHeight + 1) / 2 }
    /// Tiles across an output plane, `⌈OW / 2⌉`.
    var tileColumns: Int { (geometry.outWidth + 1) / 2 }
    var tilesPerImage: Int { tileRows * tileColumns }
    /// The height of a padded plane, every row the tiles read: `2·⌈OH/2⌉ + 2 ≥ H + 2·pH`. (A
    /// padded row has `2·⌈OW/2⌉ + 2` columns, ``tileColumns`` + 1 pairs.)
    var paddedHeight: Int { 2 * tileRows + 2 }

    /// Images per block: about ``ConvolutionTuning/winogradBlockTiles`` tiles, at least one image.
    var imagesPerBlock: Int {
        Swift.max(1, Swift.min(geometry.batch, ConvolutionTuning.winogradBlockTiles / Swift.max(tilesPerImage, 1)))
    }

    // MARK: Transforms

    /// `U = G g Gᵀ` of every filter, stored `[16, O, C]` (position-major, so `U_ξ` is an `O × C`
    /// matrix at `ξ·O·C`).
    func transformWeight<T: TensorFloat>(_ weight: UnsafePointer<T>, into u: UnsafeMutablePointer<T>) {
        let o = geometry.outChannels, c = geometry.channels, stride = o * c
        let half: T = 0.5
        for oc in 0..<(o * c) {
            let g = weight + oc * 9
            // G g, row by row (4 rows of 3), then each row times Gᵀ (4 columns).
            func store(_ a: Int, _ h0: T, _ h1: T, _ h2: T) {
                u[(4 * a + 0) * stride + oc] = h0
                u[(4 * a + 1) * stride + oc] = half * (h0 + h1 + h2)
                u[(4 * a + 2) * stride + oc] = half * (h0 - h1 + h2)
                u[(4 * a + 3) * stride + oc] = h2
            }
            store(0, g[0], g[1], g[2])
            store(1, half * (g[0] + g[3] + g[6]), half * (g[1] + g[4] + g[7]), half * (g[2] + g[5] + g[8]))
            store(2, half * (g[0] - g[3] + g[6]), half * (g[1] - g[4] + g[7]), half * (g[2] - g[5] + g[8]))
            store(3, g[6], g[7], g[8])
        }
    }

    /// The weight gradient `Gᵀ dU G` (`[O, C, 3, 3]`) of the gradient of the transformed
    /// filters `dU` (`[16, O, C]`).
    func weightGradient<T: TensorFloat>(from du: UnsafePointer<T>, into gradWeight: UnsafeMutablePointer<T>) {
        let o = geometry.outChannels, c = geometry.channels, stride = o * c
        let half: T = 0.5
        for oc in 0..<(o * c) {
            func d(_ a: Int, _ b: Int) -> T { du[(4 * a + b) * stride + oc] }
            // Gᵀ dU, column by column (3 rows of 4), then each row times G (3 columns).
            let g = gradWeight + oc * 9
            func store(_ i: Int, _ h0: T, _ h1: T, _ h2: T, _ h3: T) {
                g[3 * i] = h0 + half * (h1 + h2)
                g[3 * i + 1] = half * (h1 - h2)
                g[3 * i + 2] = half * (h1 + h2) + h3
            }
            func top(_ b: Int) -> T { d(0, b) + half * (d(1, b) + d(2, b)) }
            func middle(_ b: Int) -> T { half * (d(1, b) - d(2, b)) }
            func bottom(_ b: Int) -> T { half * (d(1, b) + d(2, b)) + d(3, b) }
            store(0, top(0), top(1), top(2), top(3))
            store(1, middle(0), middle(1), middle(2), middle(3))
            store(2, bottom(0), bottom(1), bottom(2), bottom(3))
        }
    }

    // The data transforms run eight tiles at a time (`T.Lanes`). A tile starts at an even
    // column, so its four columns are the even and odd columns of two neighbouring pairs: rows
    // are split into their even and odd columns once ("deinterleaved"), after which every
    // vector access is contiguous. Vectors run past the last tile of a row by up to seven
    // lanes: the buffers are padded for it, and what such lanes write lands on tiles (or on the
    // padding of `ld`) that are written again later.

    /// Scalars per vector: `GemmScalar.Lanes` holds eight for both float types.
    static var lanes: Int { 8 }
    /// ``tileColumns`` rounded up to whole vectors.
    var vectorColumns: Int { (tileColumns + Self.lanes - 1) / Self.lanes * Self.lanes }
    /// The length of one deinterleaved half-row (the even or the odd columns of a padded row):
    /// room for a vector starting at the last tile and reading one pair further.
    var halfRow: Int { vectorColumns + Self.lanes }
    /// The elements between blocks of tiles of the same channel and position: the block's tiles
    /// and a vector's overrun.
    func leadingDimension(images: Int) -> Int { images * tilesPerImage + Self.lanes }

    /// Scratch for the transforms of one worker: a deinterleaved padded plane and a few rows.
    var rowScratchCount: Int { 2 * paddedHeight * halfRow + 12 * halfRow }

    /// Writes `V = Bᵀ d B` of every tile of one image (`[C, H, W]` at `source`) into `v`:
    /// position ξ of channel `c`'s tile `t` goes to `v[ξ·positionStride + c·ld + t]`.
    func transformInput<T: GemmScalar>(_ source: UnsafePointer<T>, into v: UnsafeMutablePointer<T>,
                                       positionStride: Int, ld: Int, scratch: UnsafeMutablePointer<T>) {
        let g = geometry
        let h = g.height, w = g.width, ph = g.paddingHeight, pw = g.paddingWidth
        let tr = tileRows, tc = tileColumns, vc = vectorColumns, hr = halfRow
        // The even and odd columns of every padded row of the plane (zero outside the image).
        // Input column iw is padded column iw + pW: with an even pW the image's even columns
        // are the padded even ones, with an odd pW they swap.
        let evens = scratch, odds = evens + paddedHeight * hr
        let first = pw % 2 == 0 ? evens : odds, second = pw % 2 == 0 ? odds : evens
        let firstShift = pw / 2, secondShift = (pw + 1) / 2
        for channel in 0..<g.channels {
            let plane = source + channel * h * w
            evens.update(repeating: 0, count: 2 * paddedHeight * hr)
            for y in 0..<paddedHeight {
                let ih = y - ph
                guard ih >= 0 && ih < h else { continue }
                deinterleave(plane + ih * w, evens: first + (y * hr + firstShift),
                             odds: second + (y * hr + secondShift), count: w)
            }
            for ti in 0..<tr {
                let base = v + channel * ld + ti * tc
                // Bᵀ d row a is row P + s·row Q of the patch; then times B along the columns:
                // (x₀ − x₂, x₁ + x₂, x₂ − x₁, x₁ − x₃) with x = (e_j, o_j, e_j+1, o_j+1).
                for a in 0..<4 {
                    let (p, q, sign): (Int, Int, T) = a == 0 ? (0, 2, -1) : a == 1 ? (1, 2, 1) : a == 2 ? (2, 1, -1) : (1, 3, -1)
                    let ep = evens + (2 * ti + p) * hr, eq = evens + (2 * ti + q) * hr
                    let op = odds + (2 * ti + p) * hr, oq = odds + (2 * ti + q) * hr
                    let out0 = base + (4 * a) * positionStride, out1 = out0 + positionStride
                    let out2 = out1 + positionStride, out3 = out2 + positionStride
                    var j = 0
                    while j < vc {
                        let e0: T.Lanes = loadLanes(ep + j) + sign * loadLanes(eq + j)
                        let e1: T.Lanes = loadLanes(ep + (j + 1)) + sign * loadLanes(eq + (j + 1))
                        let o0: T.Lanes = loadLanes(op + j) + sign * loadLanes(oq + j)
                        let o1: T.Lanes = loadLanes(op + (j + 1)) + sign * loadLanes(oq + (j + 1))
                        storeLanes(e0 - e1, out0 + j)
                        storeLanes(o0 + e1, out1 + j)
                        storeLanes(e1 - o0, out2 + j)
                        storeLanes(o0 - o1, out3 + j)
                        j &+= Self.lanes
                    }
                }
            }
        }
    }

    /// Writes the output of one image (`[O, OH, OW]`) from the products `M` (position ξ of
    /// channel `o`'s tile `t` at `m[ξ·positionStride + o·ld + t]`): `Y = Aᵀ M A`, plus the bias.
    func transformOutput<T: GemmScalar>(_ m: UnsafePointer<T>, positionStride: Int, ld: Int,
                                        bias: UnsafePointer<T>?, into output: UnsafeMutablePointer<T>,
                                        scratch: UnsafeMutablePointer<T>) {
        let g = geometry
        let oh = g.outHeight, ow = g.outWidth
        let tr = tileRows, tc = tileColumns, vc = vectorColumns, hr = halfRow
        // The even and odd columns of the tile row's two output rows.
        let topEven = scratch, topOdd = scratch + hr, bottomEven = topOdd + hr, bottomOdd = bottomEven + hr
        for o in 0..<g.outChannels {
            let b = T.Lanes(repeating: bias?[o] ?? 0)
            let plane = output + o * oh * ow
            for ti in 0..<tr {
                let base = m + o * ld + ti * tc
                var j = 0
                while j < vc {
                    // Aᵀ M (two rows of four), then times A: (s₀ + s₁ + s₂, s₁ − s₂ − s₃).
                    let row0 = base + j, row1 = row0 + 4 * positionStride
                    let row2 = row1 + 4 * positionStride, row3 = row2 + 4 * positionStride
                    var t0 = loadLanes(row0), t1 = loadLanes(row0 + positionStride)
                    var t2 = loadLanes(row0 + 2 * positionStride), t3 = loadLanes(row0 + 3 * positionStride)
                    var m0 = loadLanes(row1), m1 = loadLanes(row1 + positionStride)
                    var m2 = loadLanes(row1 + 2 * positionStride), m3 = loadLanes(row1 + 3 * positionStride)
                    let u0 = m0 - loadLanes(row2) - loadLanes(row3), u1 = m1 - loadLanes(row2 + positionStride) - loadLanes(row3 + positionStride)
                    let u2 = m2 - loadLanes(row2 + 2 * positionStride) - loadLanes(row3 + 2 * positionStride)
                    let u3 = m3 - loadLanes(row2 + 3 * positionStride) - loadLanes(row3 + 3 * positionStride)
                    m0 += loadLanes(row2); m1 += loadLanes(row2 + positionStride)
                    m2 += loadLanes(row2 + 2 * positionStride); m3 += loadLanes(row2 + 3 * positionStride)
                    t0 += m0; t1 += m1; t2 += m2; t3 += m3
                    storeLanes(t0 + t1 + t2 + b, topEven + j)
                    storeLanes(t1 - t2 - t3 + b, topOdd + j)
                    storeLanes(u0 + u1 + u2 + b, bottomEven + j)
                    storeLanes(u1 - u2 - u3 + b, bottomOdd + j)
                    j &+= Self.lanes
                }
                let y = 2 * ti
                interleave(topEven, topOdd, into: plane + y * ow, count: ow)
                if y + 1 < oh { interleave(bottomEven, bottomOdd, into: plane + (y + 1) * ow, count: ow) }
            }
        }
    }

    /// Writes `Ŷ = A dY Aᵀ` of every tile of one image's output gradient (`[O, OH, OW]`) into
    /// `y`, laid out as ``transformInput(_:into:positionStride:ld:scratch:)`` lays out `V`.
    func transformGradOutput<T: GemmScalar>(_ gradOutput: UnsafePointer<T>, into y: UnsafeMutablePointer<T>,
                                            positionStride: Int, ld: Int, scratch: UnsafeMutablePointer<T>) {
        let g = geometry
        let oh = g.outHeight, ow = g.outWidth
        let tr = tileRows, tc = tileColumns, vc = vectorColumns, hr = halfRow
        let topEven = scratch, topOdd = scratch + hr, bottomEven = topOdd + hr, bottomOdd = bottomEven + hr
        // Columns past the last output column (an odd width's last tile) read zero.
        scratch.update(repeating: 0, count: 4 * hr)
        for o in 0..<g.outChannels {
            let plane = gradOutput + o * oh * ow
            for ti in 0..<tr {
                let row = 2 * ti
                deinterleave(plane + row * ow, evens: topEven, odds: topOdd, count: ow)
                if row + 1 < oh {
                    deinterleave(plane + (row + 1) * ow, evens: bottomEven, odds: bottomOdd, count: ow)
                } else {
                    bottomEven.update(repeating: 0, count: tc)
                    bottomOdd.update(repeating: 0, count: tc)
                }
                // A dY: rows z₀ = y₀, z₁ = y₀ + y₁, z₂ = y₀ − y₁, z₃ = −y₁; then each row times
                // Aᵀ: (z₀, z₀ + z₁, z₀ − z₁, −z₁) over the tile's two columns.
                let base = y + o * ld + ti * tc
                var j = 0
                while j < vc {
                    let u0 = loadLanes(topEven + j), u1 = loadLanes(topOdd + j)
                    let l0 = loadLanes(bottomEven + j), l1 = loadLanes(bottomOdd + j)
                    func put(_ a: Int, _ z0: T.Lanes, _ z1: T.Lanes) {
                        let out = base + (4 * a) * positionStride + j
                        storeLanes(z0, out)
                        storeLanes(z0 + z1, out + positionStride)
                        storeLanes(z0 - z1, out + 2 * positionStride)
                        storeLanes(-z1, out + 3 * positionStride)
                    }
                    put(0, u0, u1)
                    put(1, u0 + l0, u1 + l1)
                    put(2, u0 - l0, u1 - l1)
                    put(3, -l0, -l1)
                    j &+= Self.lanes
                }
            }
        }
    }

    /// Writes the input gradient of one image (`[C, H, W]`) from the gradient of its transformed
    /// tiles `dV` (laid out as `V`): each tile adds `B dV Bᵀ` onto the 4×4 patch it was read
    /// from; what falls on the padding is dropped.
    func inputGradient<T: GemmScalar>(from dv: UnsafePointer<T>, positionStride: Int, ld: Int,
                                      into gradInput: UnsafeMutablePointer<T>, scratch: UnsafeMutablePointer<T>) {
        let g = geometry
        let h = g.height, w = g.width, ph = g.paddingHeight, pw = g.paddingWidth
        let tr = tileRows, tc = tileColumns, vc = vectorColumns, hr = halfRow
        // The padded plane's even and odd columns, then four rows of one tile row's patches.
        let evens = scratch, odds = evens + paddedHeight * hr
        let rowEvens = odds + paddedHeight * hr, rowOdds = rowEvens + 4 * hr
        for channel in 0..<g.channels {
            evens.update(repeating: 0, count: 2 * paddedHeight * hr)
            for ti in 0..<tr {
                let base = dv + channel * ld + ti * tc
                // Row a of a tile times Bᵀ on the right: (q₀, q₁ − q₂ + q₃, −q₀ + q₁ + q₂, −q₃)
                // at columns (e_j, o_j, e_j+1, o_j+1): tile j's first two land on pair j, its
                // last two on pair j + 1.
                for a in 0..<4 {
                    let q0 = base + (4 * a) * positionStride, q1 = q0 + positionStride
                    let q2 = q1 + positionStride, q3 = q2 + positionStride
                    let re = rowEvens + a * hr, ro = rowOdds + a * hr
                    var j = 0
                    while j < vc {
                        storeLanes(loadLanes(q0 + j), re + j)
                        storeLanes(loadLanes(q1 + j) - loadLanes(q2 + j) + loadLanes(q3 + j), ro + j)
                        j &+= Self.lanes
                    }
                    // Lanes past the last tile read other tiles: clear what they wrote.
                    (re + tc).update(repeating: 0, count: hr - tc)
                    (ro + tc).update(repeating: 0, count: hr - tc)
                    j = 0
                    while j < vc {
                        let second = loadLanes(q1 + j) + loadLanes(q2 + j) - loadLanes(q0 + j)
                        storeLanes(loadLanes(re + j + 1) + second, re + j + 1)
                        storeLanes(loadLanes(ro + j + 1) - loadLanes(q3 + j), ro + j + 1)
                        j &+= Self.lanes
                    }
                }
                // B on the left combines the rows: (r₀, r₁ − r₂ + r₃, −r₀ + r₁ + r₂, −r₃), onto
                // padded rows 2·ti … 2·ti + 3. Pairs 0 … tc hold the tile row's columns.
                for column in 0..<2 {
                    let rows = column == 0 ? rowEvens : rowOdds, half = column == 0 ? evens : odds
                    let r0 = rows, r1 = rows + hr, r2 = rows + 2 * hr, r3 = rows + 3 * hr
                    let p0 = half + 2 * ti * hr, p1 = p0 + hr, p2 = p1 + hr, p3 = p2 + hr
                    var j = 0
                    while j <= tc {
                        let x0 = loadLanes(r0 + j), x1 = loadLanes(r1 + j), x2 = loadLanes(r2 + j), x3 = loadLanes(r3 + j)
                        storeLanes(loadLanes(p0 + j) + x0, p0 + j)
                        storeLanes(loadLanes(p1 + j) + x1 - x2 + x3, p1 + j)
                        storeLanes(loadLanes(p2 + j) + x1 + x2 - x0, p2 + j)
                        storeLanes(loadLanes(p3 + j) - x3, p3 + j)
                        j &+= Self.lanes
                    }
                }
            }
            // The image's pixels: padded column iw + pw of padded row ih + ph.
            let destination = gradInput + channel * h * w
            for ih in 0..<h {
                let e = evens + (ih + ph) * hr, o = odds + (ih + ph) * hr
                let to = destination + ih * w
                if pw % 2 == 0 {
                    interleave(e + pw / 2, o + pw / 2, into: to, count: w)
                } else {
                    interleave(o + pw / 2, e + pw / 2 + 1, into: to, count: w)
                }
            }
        }
    }

    // MARK: Passes

    /// The forward pass, as ``ConvGeometry/forward(input:weight:bias:output:saveLowered:)``.
    func forward<T: GemmScalar>(input: UnsafePointer<T>, weight: UnsafePointer<T>, bias: UnsafePointer<T>?,
                                output: UnsafeMutablePointer<T>) {
        let g = geometry
        let c = g.channels, o = g.outChannels, xi = Self.positions
        require(T.Lanes.scalarCount == Self.lanes, "Winograd transforms assume \(Self.lanes)-lane vectors")
        let perBlock = imagesPerBlock, blocks = (g.batch + perBlock - 1) / perBlock
        let ld = leadingDimension(images: perBlock)
        let workers = Swift.max(1, Swift.min(g.workerCount, blocks))
        let workspace = xi * (c + o) * ld + rowScratchCount
        let scratch = Tensor.empty([xi * o * c + workers * workspace], dtype: T.dtype)
        let u = scratch.pointer(T.self)
        transformWeight(weight, into: u)
        let inputImage = c * g.inputPlane, outputImage = o * g.outputPlane
        forEachTask(blocks, workers: workers) { block, worker in
            let v = u + xi * o * c + worker * workspace
            let m = v + xi * c * ld
            let transformScratch = m + xi * o * ld
            let first = block * perBlock, count = Swift.min(perBlock, g.batch - first)
            let tiles = count * tilesPerImage
            for i in 0..<count {
                transformInput(input + (first + i) * inputImage, into: v + i * tilesPerImage,
                               positionStride: c * ld, ld: ld, scratch: transformScratch)
            }
            for p in 0..<xi {
                T.gemm(transposeA: false, transposeB: false, m: o, n: tiles, k: c,
                       alpha: 1, a: u + p * o * c, lda: c, b: v + p * c * ld, ldb: ld,
                       beta: 0, c: m + p * o * ld, ldc: ld)
            }
            for i in 0..<count {
                transformOutput(m + i * tilesPerImage, positionStride: o * ld, ld: ld, bias: bias,
                                into: output + (first + i) * outputImage, scratch: transformScratch)
            }
        }
        withExtendedLifetime(scratch) {}
    }

    /// The backward pass, as ``ConvGeometry/backward(input:weight:gradOutput:gradInput:gradWeight:gradBias:savedLowered:)``:
    /// the batch is cut into ``ConvolutionTuning/gradientChunks`` fixed runs of images whose
    /// weight and bias gradient sums are added in order, so the result is the same bit for bit
    /// on every run.
    func backward<T: GemmScalar>(input: UnsafePointer<T>, weight: UnsafePointer<T>, gradOutput: UnsafePointer<T>,
                                 gradInput: UnsafeMutablePointer<T>?, gradWeight: UnsafeMutablePointer<T>?,
                                 gradBias: UnsafeMutablePointer<T>?) {
        let g = geometry
        let c = g.channels, o = g.outChannels, xi = Self.positions
        require(T.Lanes.scalarCount == Self.lanes, "Winograd transforms assume \(Self.lanes)-lane vectors")
        let chunks = Swift.min(g.batch, ConvolutionTuning.gradientChunks)
        let perBlock = imagesPerBlock, ld = leadingDimension(images: perBlock)
        let workers = Swift.max(1, Swift.min(g.workerCount, chunks))
        let needV = gradWeight != nil, needDV = gradInput != nil
        let workspace = (needV ? xi * c * ld : 0) + xi * o * ld + (needDV ? xi * c * ld : 0)
            + rowScratchCount
        let uCount = needDV ? xi * o * c : 0
        let duCount = gradWeight == nil ? 0 : chunks * xi * o * c
        let biasCount = gradBias == nil ? 0 : chunks * o
        let scratch = Tensor.empty([uCount + duCount + biasCount + workers * workspace], dtype: T.dtype)
        let u = scratch.pointer(T.self)
        let duPartials = u + uCount, biasPartials = duPartials + duCount
        let workspaces = biasPartials + biasCount
        if needDV { transformWeight(weight, into: u) }
        let inputImage = c * g.inputPlane, outputImage = o * g.outputPlane
        forEachTask(chunks, workers: workers) { chunk, worker in
            let v = workspaces + worker * workspace, y = v + (needV ? xi * c * ld : 0)
            let dv = y + xi * o * ld
            let transformScratch = dv + (needDV ? xi * c * ld : 0)
            let start = chunk * g.batch / chunks, end = (chunk + 1) * g.batch / chunks
            let du = duPartials + chunk * xi * o * c
            var first = start
            while first < end {
                let count = Swift.min(perBlock, end - first)
                let tiles = count * tilesPerImage
                for i in 0..<count {
                    let image = first + i
                    transformGradOutput(gradOutput + image * outputImage, into: y + i * tilesPerImage,
                                        positionStride: o * ld, ld: ld, scratch: transformScratch)
                    if needV {
                        transformInput(input + image * inputImage, into: v + i * tilesPerImage,
                                       positionStride: c * ld, ld: ld, scratch: transformScratch)
                    }
                }
                for p in 0..<xi {
                    if needV {
                        T.gemm(transposeA: false, transposeB: true, m: o, n: c, k: tiles,
                               alpha: 1, a: y + p * o * ld, lda: ld, b: v + p * c * ld, ldb: ld,
                               beta: first == start ? 0 : 1, c: du + p * o * c, ldc: c)
                    }
                    if needDV {
                        T.gemm(transposeA: true, transposeB: false, m: c, n: tiles, k: o,
                               alpha: 1, a: u + p * o * c, lda: c, b: y + p * o * ld, ldb: ld,
                               beta: 0, c: dv + p * c * ld, ldc: ld)
                    }
                }
                if let gradInput {
                    for i in 0..<count {
                        inputGradient(from: dv + i * tilesPerImage, positionStride: c * ld, ld: ld,
                                      into: gradInput + (first + i) * inputImage, scratch: transformScratch)
                    }
                }
                first += count
            }
            if gradBias != nil {
                for n in start..<end {
                    addBiasGradient(gradOutput + n * outputImage, channels: o, plane: g.outputPlane,
                                    into: biasPartials + chunk * o, accumulate: n != start)
                }
            }
        }
        if let gradWeight {
            weightGradient(from: sumChunkPartials(duPartials, chunks: chunks, count: xi * o * c), into: gradWeight)
        }
        if let gradBias {
            gradBias.update(from: sumChunkPartials(biasPartials, chunks: chunks, count: o), count: o)
        }
        withExtendedLifetime(scratch) {}
    }

}

/// Splits the first `count` elements of `source` into those at even positions (`evens`,
/// `⌈count/2⌉` of them) and at odd positions (`odds`, `⌊count/2⌋`).
@inline(__always)
private func deinterleave<T: GemmScalar>(_ source: UnsafePointer<T>, evens: UnsafeMutablePointer<T>,
                                         odds: UnsafeMutablePointer<T>, count: Int) {
    var j = 0
    let from = UnsafeRawPointer(source)
    if T.self == Float.self && count >= 16 {
        let e = UnsafeMutableRawPointer(evens), o = UnsafeMutableRawPointer(odds)
        @inline(__always) func split(_ j: Int) {
            let pair = SIMD16<Float>(lowHalf: from.loadUnaligned(fromByteOffset: 8 &* j, as: SIMD8<Float>.self),
                                     highHalf: from.loadUnaligned(fromByteOffset: 8 &* j &+ 32, as: SIMD8<Float>.self))
            e.storeBytes(of: pair.evenHalf, toByteOffset: 4 &* j, as: SIMD8<Float>.self)
            o.storeBytes(of: pair.oddHalf, toByteOffset: 4 &* j, as: SIMD8<Float>.self)
        }
        while 2 &* j &+ 16 <= count {
            split(j)
            j &+= 8
        }
        // The last pairs: one more vector, overlapping the previous one.
        if 2 &* j &+ 1 < count { split((count &- 16) / 2) }
        j = count / 2
    }
    while 2 &* j &+ 1 < count {
        evens[j] = source[2 &* j]
        odds[j] = source[2 &* j &+ 1]
        j &+= 1
    }
    if count % 2 == 1 { evens[count / 2] = source[count - 1] }
}

/// Writes `count` elements alternating from `evens` and `odds`, starting with `evens`.
@inline(__always)
private func interleave<T: GemmScalar>(_ evens: UnsafePointer<T>, _ odds: UnsafePointer<T>,
                                       into destination: UnsafeMutablePointer<T>, count: Int) {
    var j = 0
    if T.self == Float.self && count >= 16 {
        let e = UnsafeRawPointer(evens), o = UnsafeRawPointer(odds), to = UnsafeMutableRawPointer(destination)
        @inline(__always) func merge(_ j: Int) {
            let a = e.loadUnaligned(fromByteOffset: 4 &* j, as: SIMD8<Float>.self)
            let b = o.loadUnaligned(fromByteOffset: 4 &* j, as: SIMD8<Float>.self)
            let low = SIMD8<Float>(a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3])
            let high = SIMD8<Float>(a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7])
            to.storeBytes(of: low, toByteOffset: 8 &* j, as: SIMD8<Float>.self)
            to.storeBytes(of: high, toByteOffset: 8 &* j &+ 32, as: SIMD8<Float>.self)
        }
        while 2 &* j &+ 16 <= count {
            merge(j)
            j &+= 8
        }
        // The last pairs: one more vector, overlapping the previous one.
        if 2 &* j &+ 1 < count { merge((count &- 16) / 2) }
        j = count / 2
    }
    while 2 &* j &+ 1 < count {
        destination[2 &* j] = evens[j]
        destination[2 &* j &+ 1] = odds[j]
        j &+= 1
    }
    if count % 2 == 1 { destination[count - 1] = evens[count / 2] }
}

@inline(__always)
private func interleave<T: GemmScalar>(_ evens: UnsafeMutablePointer<T>, _ odds: UnsafeMutablePointer<T>,
                                       into destination: UnsafeMutablePointer<T>, count: Int) {
    interleave(UnsafePointer(evens), UnsafePointer(odds), into: destination, count: count)
}
