import Foundation
import Luz
import LuzDatasets
import LuzPlot

/// How `basis-regression` fits its weights.
public enum BasisRegressionOptimizer: String, CaseIterable, Sendable {
    /// The seed's loop: a gradient step of `learningRate` per pass.
    case sgd
    /// ``LBFGS`` with the strong-Wolfe line search and torch's learning rate 1: each step
    /// evaluates the loss up to 25 times, and 20 steps fit better than 5000 of gradient descent.
    case lbfgs
}

/// The options of `basis-regression`.
public struct BasisRegressionOptions: Sendable {
    /// The shared settings; `epochs` is the number of optimizer steps (one gradient step is one
    /// pass over the data, so steps and epochs are the same thing here; an LBFGS step makes
    /// several passes).
    public var settings: ExampleSettings
    /// The optimizer (the seed's gradient descent by default).
    public var optimizer = BasisRegressionOptimizer.sgd
    /// The number of points on the semi-circle (the seed's 50).
    public var pointCount = 50
    /// The number of Gaussian basis functions, hence of weights (the seed's 10).
    public var basisCount = 10
    /// The gradient-descent step size (the seed's 0.01); LBFGS uses its own (torch's 1).
    public var learningRate = 0.01
    /// The number of weights of the underfitting case: too few to follow the curve.
    public var underfittingBasisCount = 2
    /// The number of points of the overfitting case: too few for `basisCount` weights.
    public var overfittingPointCount = 5
    /// The standard deviation of the noise on the overfitting case's points.
    public var overfittingNoise = 0.05

    /// The number of steps when `settings.epochs` is `nil`: the seed's 5000.
    public static let defaultSteps = 5000
    /// The number of LBFGS steps when `settings.epochs` is `nil`.
    public static let defaultLBFGSSteps = 20

    /// The number of steps the run makes: `settings.epochs`, else the optimizer's default.
    public var steps: Int {
        settings.epochs ?? (optimizer == .sgd ? Self.defaultSteps : Self.defaultLBFGSSteps)
    }

    /// Creates the options.
    public init(settings: ExampleSettings = ExampleSettings()) { self.settings = settings }
}

/// `basis-regression`: the seed's hand-written gradient descent fitting 10 Gaussian basis
/// functions to 50 points of a semi-circle, then the book's two failure cases: underfitting
/// (too few weights to follow the curve) and overfitting (too few points for many weights).
///
/// The model is `f(x) = Σⱼ wⱼ exp(-(x - cⱼ)² / 2σ²)` with centres `cⱼ` evenly spaced over
/// [-1, 1] and σ = 0.9 / (k - 1) (0.1 for the seed's k = 10, about half the spacing). The loop
/// is the seed's: loss, `backward()`, an in-place update under `withNoGrad`, the gradient zeroed;
/// with `--optimizer lbfgs`, ``LBFGS`` steps instead, calling a closure with the same loss.
public enum BasisRegression {
    /// The command name, also the figures' folder.
    public static let name = "basis-regression"

    /// One fitted case, with what its figure needs.
    struct Case {
        let title: String
        let x: [Float], y: [Float]
        let centres: [Float]
        let width: Float
        let weights: [Float]
        let trainLoss: Double
        let testLoss: Double
    }

    /// Runs the example: three fits, three figures.
    /// - Returns: `loss` (the main fit's training MSE), `test_loss` (its MSE against the true
    ///   curve), `underfit_loss`, `overfit_train_loss`, `overfit_test_loss`, `steps` and
    ///   `optimizer`.
    public static func run(_ options: BasisRegressionOptions) throws -> ExampleResult {
        let settings = options.settings
        let steps = options.steps
        guard options.basisCount >= 2, options.underfittingBasisCount >= 2, options.pointCount >= 1,
              options.overfittingPointCount >= 1, steps >= 0 else {
            throw ExampleError.invalidOption("basis-regression: need at least 2 basis functions, 1 point and 0 steps")
        }
        settings.say("basis-regression: \(options.basisCount) Gaussian basis functions, \(options.pointCount) points, \(steps) \(options.optimizer == .sgd ? "gradient" : "LBFGS") steps")

        let data = SyntheticData.semicircle(count: options.pointCount, generator: settings.generator(1))
        let main = try fit(title: "\(options.basisCount) weights, \(options.pointCount) points",
                       x: data.input.floats, y: data.target.floats, basisCount: options.basisCount,
                       steps: steps, optimizer: options.optimizer, learningRate: options.learningRate, generator: settings.generator(2),
                       log: try settings.tensorBoardWriter(name, run: "fit"))
        settings.say(String(format: "  fit: training MSE %.5f, MSE against the true curve %.5f", main.trainLoss, main.testLoss))

        let under = try fit(title: "Underfitting: \(options.underfittingBasisCount) weights, \(options.pointCount) points",
                        x: data.input.floats, y: data.target.floats, basisCount: options.underfittingBasisCount,
                        steps: steps, optimizer: options.optimizer, learningRate: options.learningRate, generator: settings.generator(3),
                        log: try settings.tensorBoardWriter(name, run: "underfitting"))
        settings.say(String(format: "  underfitting: training MSE %.5f", under.trainLoss))

        let few = SyntheticData.semicircle(count: options.overfittingPointCount, noise: options.overfittingNoise,
                                           generator: settings.generator(4))
        let over = try fit(title: "Overfitting: \(options.basisCount) weights, \(options.overfittingPointCount) points",
                       x: few.input.floats, y: few.target.floats, basisCount: options.basisCount,
                       steps: steps, optimizer: options.optimizer, learningRate: options.learningRate, generator: settings.generator(5),
                       log: try settings.tensorBoardWriter(name, run: "overfitting"))
        settings.say(String(format: "  overfitting: training MSE %.5f, MSE against the true curve %.5f", over.trainLoss, over.testLoss))

        var result = ExampleResult(example: name)
        result.add("loss", main.trainLoss)
        result.add("test_loss", main.testLoss)
        result.add("underfit_loss", under.trainLoss)
        result.add("overfit_train_loss", over.trainLoss)
        result.add("overfit_test_loss", over.testLoss)
        result.add("steps", steps)
        result.add("optimizer", options.optimizer.rawValue)
        result.figures.append(try settings.write(figure(main), example: name, name: "fit"))
        result.figures.append(try settings.write(figure(under), example: name, name: "underfitting"))
        result.figures.append(try settings.write(figure(over), example: name, name: "overfitting"))
        return result
    }

    /// The features `[n, k]`: each basis function evaluated at each point.
    static func features(_ x: Tensor, centres: Tensor, width: Double) -> Tensor {
        let difference = x.reshaped([-1, 1]) - centres.reshaped([1, -1])
        return (-(difference * difference) / (2 * width * width)).exp()
    }

    static func width(basisCount k: Int) -> Double { 0.9 / Double(k - 1) }

    /// The seed's loop: random initial weights, full-batch gradient descent on the MSE (or
    /// LBFGS steps); the loss of every tenth step goes to `log` when given (every step's for
    /// LBFGS, which makes few).
    static func fit(title: String, x: [Float], y: [Float], basisCount k: Int, steps: Int,
                    optimizer: BasisRegressionOptimizer = .sgd, learningRate: Double,
                    generator: Generator, log: TensorBoardEventWriter? = nil) throws -> Case {
        let centres = Tensor.linspace(-1, 1, steps: k)
        let width = width(basisCount: k)
        let inputs = Tensor(x), targets = Tensor(y)
        // The features do not depend on the weights, so they are computed once; the seed
        // rebuilds them every step, which gives the same gradients.
        let phi = features(inputs, centres: centres, width: width)
        let w = Tensor.randn([k], generator: generator, requiresGrad: true)
        var loss = Double.nan
        switch optimizer {
        case .sgd:
            for index in 0..<steps {
                let step = (phi.matmul(w) - targets).pow(2).mean()
                if let log, index % 10 == 0 { try log.addScalar("train/loss", value: step.item, step: index) }
                step.backward()
                withNoGrad {
                    w.addInPlace(w.grad!, alpha: -learningRate)
                    w.zeroGrad()
                }
            }
        case .lbfgs:
            let lbfgs = LBFGS([w], lineSearch: .strongWolfe)
            for index in 0..<steps {
                let firstLoss = lbfgs.step {
                    lbfgs.zeroGrad()
                    let step = (phi.matmul(w) - targets).pow(2).mean()
                    step.backward()
                    return step.item
                }
                if let log { try log.addScalar("train/loss", value: firstLoss, step: index) }
            }
        }
        let weights = w.detached()
        withNoGrad { loss = (phi.matmul(weights) - targets).pow(2).mean().item }
        // The error against the noise-free curve over the whole interval: what generalization means here.
        let grid = Tensor.linspace(-1, 1, steps: 201)
        let truth = (1 - grid * grid).clamped(min: 0).sqrt()
        let testLoss = withNoGrad { (features(grid, centres: centres, width: width).matmul(weights) - truth).pow(2).mean().item }
        return Case(title: title, x: x, y: y, centres: centres.floats, width: Float(width), weights: weights.floats,
                    trainLoss: loss, testLoss: testLoss)
    }

    /// The points, the true semi-circle (dashed), the fitted curve and each weighted basis
    /// function `wⱼ φⱼ(x)` (thin grey lines).
    static func figure(_ fitted: Case) -> Figure {
        let grid = (0...200).map { -1 + Double($0) / 100 }
        let gridTensor = Tensor(grid.map { Float($0) })
        let phi = features(gridTensor, centres: Tensor(fitted.centres), width: Double(fitted.width))
        let curve = phi.matmul(Tensor(fitted.weights)).floats
        var plot = Plot(title: fitted.title, xLabel: "x", yLabel: "y")
        let columns = phi.transposed().contiguousCopy()
        for j in 0..<fitted.weights.count {
            let basis: [Float] = columns[j].floats.map { $0 * fitted.weights[j] }
            plot = plot.line(x: grid, y: basis, label: j == 0 ? "wⱼ φⱼ(x)" : nil, color: Color.gray, width: 0.75)
        }
        plot = plot
            .line(x: grid, y: grid.map { (x: Double) -> Double in (1 - x * x).squareRoot() }, label: "true curve", color: .darkGray, dashed: true)
            .line(x: grid, y: curve, label: "fitted f(x)", width: 2)
            .scatter(x: fitted.x, y: fitted.y, label: "training points", radius: 3)
        plot.yLimits = -0.6...1.6
        return Figure(plot, width: 640, height: 440)
    }
}
