// Einstein summation over named dimensions, reduced to sums, permutations and batched matrix
// products (so the work goes to GEMM and the gradients come from those ops).

extension Tensor {
    /// Einstein summation (torch's `einsum`): the product of the operands over named
    /// dimensions, summed over the letters missing from the output. `"ij,jk->ik"` is a matrix
    /// product, `"bij,bjk->bik"` a batched one, `"i,j->ij"` an outer product, `"ij->ji"` a
    /// transpose and `"ij->"` a sum.
    ///
    /// Each operand gets one letter per dimension; a letter shared by operands must name
    /// dimensions of the same size. Without `->` the output holds the letters used exactly
    /// once, in alphabetical order, as in torch. A letter repeated inside one operand takes its
    /// diagonal (`"ii->i"`, the trace `"ii->"`). Operands are contracted from left to right,
    /// each pair as one batched matrix product.
    ///
    /// `...` stands for the dimensions an operand has beyond its letters (`"...ij,jk->...ik"`
    /// multiplies a batch of any rank). They broadcast across operands as elementwise
    /// operations do (aligned on the right, a size of 1 stretching); without `->` they lead the
    /// output, and an output written without `...` sums them, as in torch.
    ///
    /// - Parameters:
    ///   - equation: the subscripts, such as `"bhqd,bhkd->bhqk"`; spaces are ignored.
    ///   - operands: one tensor per comma-separated subscript.
    public static func einsum(_ equation: String, _ operands: [Tensor]) -> Tensor {
        if equation.contains(".") {
            let (spelled, expanded) = spellingOutEllipses(equation, operands)
            return einsum(spelled, expanded)
        }
        let text = Array(equation.filter { $0 != " " })
        // The inputs, and the output after "->" when there is one.
        var inputText = text, outputText: [Character]? = nil
        if let dash = text.firstIndex(of: "-") {
            require(dash + 1 < text.count && text[dash + 1] == ">" && !text[(dash + 2)...].contains("-"),
                    "einsum: '\(equation)' should have at most one '->' and no other '-'")
            inputText = Array(text[..<dash])
            outputText = Array(text[(dash + 2)...])
        }
        let inputs = inputText.split(separator: ",", omittingEmptySubsequences: false).map { Array($0) }
        require(inputs.count == operands.count,
                "einsum: '\(equation)' names \(inputs.count) operands, \(operands.count) given")
        var sizes: [Character: Int] = [:]
        var uses: [Character: Int] = [:]
        for (k, (letters, operand)) in zip(inputs, operands).enumerated() {
            require(letters.allSatisfy { $0.isLetter && $0.isASCII },
                    "einsum: '\(equation)': subscripts must be letters a–z or A–Z")
            require(letters.count == operand.rank,
                    "einsum: '\(equation)': operand \(k) has \(letters.count) subscripts for shape \(describe(operand.shape))")
            for (letter, size) in zip(letters, operand.shape) {
                if let known = sizes[letter] {
                    require(known == size,
                            "einsum: '\(equation)': '\(letter)' is \(known) in one operand and \(size) in operand \(k) (shape \(describe(operand.shape)))")
                }
                sizes[letter] = size
                uses[letter, default: 0] += 1
            }
        }
        let output: [Character]
        if let outputText {
            output = outputText
            require(Set(output).count == output.count, "einsum: '\(equation)': a letter repeated in the output")
            for letter in output {
                require(sizes[letter] != nil, "einsum: '\(equation)': output letter '\(letter)' is in no operand")
            }
        } else {
            output = uses.filter { $0.value == 1 }.keys.sorted()
        }

        // A letter repeated inside one operand takes the diagonal: "ii->i", the trace "ii->".
        var operands = operands, subscripts = inputs
        for k in operands.indices {
            (operands[k], subscripts[k]) = diagonal(operands[k], subscripts[k])
        }

        var current = operands[0], letters = subscripts[0]
        for k in operands.indices.dropFirst() {
            let later = Set(output).union(subscripts[(k + 1)...].joined())
            (current, letters) = contract(current, letters, operands[k], subscripts[k], keeping: later, sizes: sizes)
        }
        // What is left: sum the letters not in the output, then order the rest like it.
        let dropped = letters.indices.filter { !output.contains(letters[$0]) }
        if !dropped.isEmpty {
            current = current.sum(dims: dropped)
            letters = letters.filter { output.contains($0) }
        }
        let order = output.map { letters.firstIndex(of: $0)! }
        return order == Array(0..<order.count) ? current : current.permuted(order)
    }

    /// The equation with each `...` replaced by letters of its own (the same letter for the same
    /// broadcast dimension in every operand), and the operands expanded where a size of 1 meets
    /// a larger one.
    private static func spellingOutEllipses(_ equation: String, _ operands: [Tensor]) -> (String, [Tensor]) {
        let text = equation.filter { $0 != " " }
        let parts = text.components(separatedBy: "->")
        require(parts.count <= 2, "einsum: '\(equation)' should have at most one '->'")
        let inputs = parts[0].components(separatedBy: ",")
        require(inputs.count == operands.count, "einsum: '\(equation)' names \(inputs.count) operands, \(operands.count) given")
        func split(_ subscripts: String) -> (before: String, after: String, hasEllipsis: Bool) {
            let pieces = subscripts.components(separatedBy: "...")
            require(pieces.count <= 2 && !pieces.joined().contains("."),
                    "einsum: '\(equation)': '\(subscripts)' must have at most one '...' and no other '.'")
            return (pieces[0], pieces.count == 2 ? pieces[1] : "", pieces.count == 2)
        }
        // Each operand's broadcast dimensions, and their common broadcast shape.
        var broadcastShapes: [[Int]?] = []
        for (k, (subscripts, operand)) in zip(inputs, operands).enumerated() {
            let (before, after, hasEllipsis) = split(subscripts)
            guard hasEllipsis else { broadcastShapes.append(nil); continue }
            let count = operand.rank - before.count - after.count
            require(count >= 0, "einsum: '\(equation)': operand \(k) has \(before.count + after.count) subscripts and '...' for shape \(describe(operand.shape))")
            broadcastShapes.append(Array(operand.shape[before.count..<(before.count + count)]))
        }
        let broadcast = broadcastShapes.compactMap { $0 }.reduce([Int]()) { BroadcastPlan.resultShape($0, $1, op: "einsum") }
        // Letters the equation does not use, for the broadcast dimensions.
        let used = Set(text)
        let fresh = Array((Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + Array("abcdefghijklmnopqrstuvwxyz")).filter { !used.contains($0) }
            .prefix(broadcast.count))
        require(fresh.count == broadcast.count, "einsum: '\(equation)': too many dimensions under '...'")
        var spelled: [String] = [], expanded: [Tensor] = []
        for (k, (subscripts, operand)) in zip(inputs, operands).enumerated() {
            let (before, after, _) = split(subscripts)
            guard let own = broadcastShapes[k] else {
                spelled.append(subscripts)
                expanded.append(operand)
                continue
            }
            let letters = String(fresh.suffix(own.count))
            spelled.append(before + letters + after)
            // A size of 1 facing a larger size elsewhere is stretched (a view of the same data).
            let target = Array(broadcast.suffix(own.count))
            if own != target {
                let shape = Array(operand.shape.prefix(before.count)) + target + Array(operand.shape.suffix(after.count))
                expanded.append(operand.expanded(to: shape))
            } else {
                expanded.append(operand)
            }
        }
        var result = spelled.joined(separator: ",")
        if parts.count == 2 {
            let (before, after, hasEllipsis) = split(parts[1])
            result += "->" + before + (hasEllipsis ? String(fresh) : "") + after
        } else {
            // torch's implicit output: the broadcast dimensions, then the letters used once.
            var uses: [Character: Int] = [:]
            for subscripts in inputs { for letter in split(subscripts).before + split(subscripts).after { uses[letter, default: 0] += 1 } }
            result += "->" + String(fresh) + String(uses.filter { $0.value == 1 }.keys.sorted())
        }
        return (result, expanded)
    }

    /// ``einsum(_:_:)`` with the operands as arguments: `Tensor.einsum("ij,jk->ik", a, b)`.
    public static func einsum(_ equation: String, _ operands: Tensor...) -> Tensor {
        einsum(equation, operands)
    }

    /// The operand with every repeated letter reduced to its diagonal, and its letters, each
    /// once: the elements off the diagonal are replaced by 0 (by selection, so that NaN there
    /// does not leak) and summed away.
    private static func diagonal(_ t: Tensor, _ letters: [Character]) -> (Tensor, [Character]) {
        var t = t, letters = letters
        while let q = letters.indices.first(where: { letters[..<$0].contains(letters[$0]) }) {
            let p = letters.firstIndex(of: letters[q])!, n = t.shape[p]
            var maskShape = [Int](repeating: 1, count: t.rank)
            maskShape[p] = n
            maskShape[q] = n
            let onDiagonal = Tensor((0..<(n * n)).map { $0 / n == $0 % n }, shape: maskShape)
            t = Tensor.where(onDiagonal, t, t.scalarLike(0)).sum(dim: q)
            letters.remove(at: q)
        }
        return (t, letters)
    }

    /// The product of two operands summed over their shared letters that are not in `keep`,
    /// as one batched matrix product; returns the result and its letters.
    private static func contract(_ a: Tensor, _ la: [Character], _ b: Tensor, _ lb: [Character],
                                 keeping keep: Set<Character>, sizes: [Character: Int]) -> (Tensor, [Character]) {
        // Letters of one operand only that nothing later needs are summed first.
        func sumAlone(_ t: Tensor, _ letters: [Character], other: [Character]) -> (Tensor, [Character]) {
            let alone = letters.indices.filter { !other.contains(letters[$0]) && !keep.contains(letters[$0]) }
            if alone.isEmpty { return (t, letters) }
            return (t.sum(dims: alone), letters.enumerated().filter { !alone.contains($0.offset) }.map { $0.element })
        }
        let (x, lx) = sumAlone(a, la, other: lb)
        let (y, ly) = sumAlone(b, lb, other: la)
        let batch = lx.filter { ly.contains($0) && keep.contains($0) }
        let contracted = lx.filter { ly.contains($0) && !keep.contains($0) }
        let leftFree = lx.filter { !ly.contains($0) }
        let rightFree = ly.filter { !lx.contains($0) }
        func arranged(_ t: Tensor, _ letters: [Character], _ order: [Character]) -> Tensor {
            let permutation = order.map { letters.firstIndex(of: $0)! }
            return permutation == Array(0..<permutation.count) ? t : t.permuted(permutation)
        }
        func size(_ group: [Character]) -> Int { group.reduce(1) { $0 * sizes[$1]! } }
        let (bs, m, kk, n) = (size(batch), size(leftFree), size(contracted), size(rightFree))
        let left = arranged(x, lx, batch + leftFree + contracted).reshaped([bs, m, kk])
        let right = arranged(y, ly, batch + contracted + rightFree).reshaped([bs, kk, n])
        let product = left.matmul(right)
        let letters = batch + leftFree + rightFree
        return (product.reshaped(letters.map { sizes[$0]! }), letters)
    }
}
