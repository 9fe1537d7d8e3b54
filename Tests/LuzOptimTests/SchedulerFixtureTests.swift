import Foundation
import LuzNN
import LuzOptim
import LuzTestSupport
import Testing

// Fixtures: the learning rate (and momentum) of torch 2.15's scheduler for 20 steps, from an
// SGD optimizer with lr 1 and momentum 0.9 (`o`, with `from torch.optim import lr_scheduler as L`),
// stepping `o.step(); s.step()` and reading `o.param_groups[0]["lr"]` after each.

/// The rates and momenta of epochs 0…20 under a scheduler made for SGD (lr 1, momentum 0.9).
private func schedule(_ make: (Optimizer) -> LRScheduler) -> (rates: [Double], momenta: [Double]) {
    let optimizer = SGD([Tensor.zeros([1], requiresGrad: true)], learningRate: 1, momentum: 0.9)
    let scheduler = make(optimizer)
    var rates = [optimizer.learningRate], momenta = [optimizer.momentum]
    for _ in 0..<20 {
        scheduler.step()
        rates.append(optimizer.learningRate)
        momenta.append(optimizer.momentum)
        #expect(scheduler.learningRates == [optimizer.learningRate])
    }
    return (rates, momenta)
}

private func expectClose(_ actual: [Double], _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (epoch, (a, e)) in zip(actual, expected).enumerated() {
        #expect(abs(a - e) <= 1e-12 * max(1, abs(e)), "epoch \(epoch): \(a), torch \(e)", sourceLocation: sourceLocation)
    }
}

@Suite("Learning-rate schedulers against torch, 20 steps")
struct SchedulerFixtureTests {
    /// `L.LinearLR(o)`
    @Test func linear() {
        expectClose(schedule { LinearLR(optimizer: $0) }.rates,
                    [0.3333333333333333, 0.4666666666666667, 0.6000000000000001, 0.7333333333333335, 0.8666666666666669, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002, 1.0000000000000002])
    }

    /// `L.LinearLR(o, start_factor=0.25, end_factor=0.5, total_iters=8)`
    @Test func linear2() {
        expectClose(schedule { LinearLR(optimizer: $0, startFactor: 0.25, endFactor: 0.5, totalSteps: 8) }.rates,
                    [0.25, 0.28125, 0.3125, 0.34375, 0.375, 0.40625, 0.4375, 0.46875, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    }

    /// `L.ConstantLR(o)`
    @Test func constant() {
        expectClose(schedule { ConstantLR(optimizer: $0) }.rates,
                    [0.3333333333333333, 0.3333333333333333, 0.3333333333333333, 0.3333333333333333, 0.3333333333333333, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    }

    /// `L.ConstantLR(o, factor=0.5, total_iters=4)`
    @Test func constant2() {
        expectClose(schedule { ConstantLR(optimizer: $0, factor: 0.5, totalSteps: 4) }.rates,
                    [0.5, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    }

    /// `L.PolynomialLR(o)`
    @Test func poly() {
        expectClose(schedule { PolynomialLR(optimizer: $0) }.rates,
                    [1.0, 0.8, 0.6, 0.4, 0.19999999999999996, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    }

    /// `L.PolynomialLR(o, total_iters=8, power=2.0)`
    @Test func poly2() {
        expectClose(schedule { PolynomialLR(optimizer: $0, totalSteps: 8, power: 2) }.rates,
                    [1.0, 0.765625, 0.5625, 0.39062500000000006, 0.2500000000000001, 0.14062500000000006, 0.06250000000000003, 0.015625000000000007, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    }

    /// `L.CosineAnnealingWarmRestarts(o, T_0=3)`
    @Test func cawr() {
        expectClose(schedule { CosineAnnealingWarmRestarts(optimizer: $0, firstPeriod: 3) }.rates,
                    [1.0, 0.75, 0.2500000000000001, 1.0, 0.75, 0.2500000000000001, 1.0, 0.75, 0.2500000000000001, 1.0, 0.75, 0.2500000000000001, 1.0, 0.75, 0.2500000000000001, 1.0, 0.75, 0.2500000000000001, 1.0, 0.75, 0.2500000000000001])
    }

    /// `L.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=2, eta_min=0.1)`
    @Test func cawr2() {
        expectClose(schedule { CosineAnnealingWarmRestarts(optimizer: $0, firstPeriod: 2, periodMultiplier: 2, minimumLearningRate: 0.1) }.rates,
                    [1.0, 0.55, 1.0, 0.8681980515339464, 0.55, 0.23180194846605365, 1.0, 0.9657457896300791, 0.8681980515339464, 0.7222075445642904, 0.55, 0.3777924554357096, 0.23180194846605365, 0.13425421036992097, 1.0, 0.9913533761814537, 0.9657457896300791, 0.9241613255361454, 0.8681980515339464, 0.800006604858821, 0.7222075445642904])
    }

    /// `L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=4), L.CosineAnnealingLR(o, T_max=10, eta_min=0.01)], milestones=[5])`
    @Test func seq() {
        expectClose(schedule { SequentialLR(optimizer: $0, schedulers: [LinearLR(optimizer: $0, startFactor: 0.1, totalSteps: 4), CosineAnnealingLR(optimizer: $0, maximumEpochs: 10, minimumLearningRate: 0.01)], milestones: [5]) }.rates,
                    [0.1, 0.325, 0.55, 0.7750000000000001, 1.0000000000000002, 1.0, 0.9757729755661011, 0.905463412215599, 0.7959536998847743, 0.6579634122155991, 0.505, 0.35203658778440106, 0.21404630011522585, 0.10453658778440106, 0.034227024433899, 0.01, 0.034227024433899, 0.10453658778440138, 0.21404630011522666, 0.3520365877844025, 0.5050000000000021])
    }

    /// `L.SequentialLR(o, [L.ConstantLR(o, factor=0.5, total_iters=2), L.ExponentialLR(o, gamma=0.8), L.StepLR(o, step_size=2, gamma=0.5)], milestones=[3, 9])`
    @Test func seq3() {
        expectClose(schedule { SequentialLR(optimizer: $0, schedulers: [ConstantLR(optimizer: $0, factor: 0.5, totalSteps: 2), ExponentialLR(optimizer: $0, gamma: 0.8), StepLR(optimizer: $0, stepSize: 2, gamma: 0.5)], milestones: [3, 9]) }.rates,
                    [0.5, 0.5, 1.0, 1.0, 0.8, 0.6400000000000001, 0.5120000000000001, 0.40960000000000013, 0.32768000000000014, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625, 0.0625, 0.03125, 0.03125])
    }

    /// `L.ChainedScheduler([L.ConstantLR(o, factor=0.1, total_iters=2), L.ExponentialLR(o, gamma=0.9)])`
    @Test func chain() {
        expectClose(schedule { ChainedScheduler(schedulers: [ConstantLR(optimizer: $0, factor: 0.1, totalSteps: 2), ExponentialLR(optimizer: $0, gamma: 0.9)]) }.rates,
                    [0.1, 0.09000000000000001, 0.8100000000000002, 0.7290000000000002, 0.6561000000000002, 0.5904900000000002, 0.5314410000000002, 0.47829690000000014, 0.43046721000000016, 0.38742048900000015, 0.34867844010000015, 0.31381059609000017, 0.28242953648100017, 0.25418658283290013, 0.22876792454961012, 0.2058911320946491, 0.1853020188851842, 0.16677181699666577, 0.1500946352969992, 0.13508517176729928, 0.12157665459056936])
    }

    /// `L.ChainedScheduler([L.LinearLR(o, start_factor=0.2, total_iters=5), L.CosineAnnealingLR(o, T_max=6)])`
    @Test func chain2() {
        expectClose(schedule { ChainedScheduler(schedulers: [LinearLR(optimizer: $0, startFactor: 0.2, totalSteps: 5), CosineAnnealingLR(optimizer: $0, maximumEpochs: 6)]) }.rates,
                    [0.2, 0.33588457268119903, 0.39000000000000007, 0.3400000000000001, 0.21000000000000013, 0.06698729810778066, 0.0, 0.06698729810778065, 0.25, 0.5000000000000003, 0.7500000000000008, 0.9330127018922202, 1.000000000000001, 0.9330127018922203, 0.7500000000000011, 0.5000000000000011, 0.25000000000000067, 0.06698729810778066, 0.0, 0.06698729810778065, 0.25000000000000094])
    }

    /// `L.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=4)`, rate and momentum
    @Test func cyclic() {
        let (rates, momenta) = schedule { CyclicLR(optimizer: $0, baseLearningRate: 0.1, maximumLearningRate: 1, stepSizeUp: 4) }
        expectClose(rates, [0.1, 0.325, 0.55, 0.775, 1.0, 0.775, 0.55, 0.325, 0.1, 0.325, 0.55, 0.775, 1.0, 0.775, 0.55, 0.325, 0.1, 0.325, 0.55, 0.775, 1.0])
        expectClose(momenta, [0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8, 0.8250000000000001, 0.8500000000000001, 0.875, 0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8, 0.8250000000000001, 0.8500000000000001, 0.875, 0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8])
    }

    /// `L.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=3, step_size_down=2, mode="triangular2")`, rate and momentum
    @Test func cyclic2() {
        let (rates, momenta) = schedule { CyclicLR(optimizer: $0, baseLearningRate: 0.1, maximumLearningRate: 1, stepSizeUp: 3, stepSizeDown: 2, mode: .triangular2) }
        expectClose(rates, [0.1, 0.3999999999999999, 0.6999999999999998, 0.9999999999999998, 0.5499999999999999, 0.1, 0.2500000000000001, 0.3999999999999999, 0.5499999999999999, 0.3250000000000002, 0.1, 0.17500000000000007, 0.24999999999999997, 0.32499999999999996, 0.2125000000000001, 0.1, 0.13750000000000004, 0.17500000000000007, 0.21249999999999994, 0.15625000000000006, 0.1])
        expectClose(momenta, [0.9, 0.8666666666666667, 0.8333333333333334, 0.8, 0.8500000000000001, 0.9, 0.8833333333333333, 0.8666666666666667, 0.8500000000000001, 0.875, 0.9, 0.8916666666666667, 0.8833333333333334, 0.875, 0.8875000000000001, 0.9, 0.8958333333333334, 0.8916666666666667, 0.8875000000000001, 0.89375, 0.9])
    }

    /// `L.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=3, mode="exp_range", gamma=0.9)`, rate and momentum
    @Test func cyclic3() {
        let (rates, momenta) = schedule { CyclicLR(optimizer: $0, baseLearningRate: 0.1, maximumLearningRate: 1, stepSizeUp: 3, mode: .exponentialRange, gamma: 0.9) }
        expectClose(rates, [0.1, 0.3700000000000001, 0.586, 0.7561000000000001, 0.4936600000000002, 0.2771469999999999, 0.1, 0.24348907000000028, 0.3582803259999998, 0.44867844010000013, 0.30920706405999987, 0.1941431788270002, 0.1, 0.17625597484987, 0.23726075472976613, 0.28530201888518414, 0.21118121133111056, 0.15003154509899969, 0.1, 0.14052555153018964, 0.17294599275434175])
        expectClose(momenta, [0.9, 0.87, 0.8460000000000001, 0.8271000000000001, 0.85626, 0.880317, 0.9, 0.8840567699999999, 0.8713021860000001, 0.8612579511, 0.8767547706600001, 0.889539646797, 0.9, 0.89152711390557, 0.8847488050300261, 0.8794108867905351, 0.8876465320743211, 0.8944409394334445, 0.9, 0.8954971609410901, 0.891894889693962])
    }

    /// `L.CyclicLR(o, base_lr=0.1, max_lr=1.0, step_size_up=4)` on Adam (lr 1): β₁ cycles.
    @Test func cyclicCyclesAdamsBeta1() {
        let optimizer = Adam([Tensor.zeros([1], requiresGrad: true)], learningRate: 1)
        let scheduler = CyclicLR(optimizer: optimizer, baseLearningRate: 0.1, maximumLearningRate: 1, stepSizeUp: 4)
        var momenta = [optimizer.beta1]
        for _ in 0..<20 {
            scheduler.step()
            momenta.append(optimizer.beta1)
        }
        expectClose(momenta, [0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8, 0.8250000000000001, 0.8500000000000001, 0.875, 0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8, 0.8250000000000001, 0.8500000000000001, 0.875, 0.9, 0.875, 0.8500000000000001, 0.8250000000000001, 0.8])
    }

    /// `torch.optim.swa_utils.SWALR(o, swa_lr=0.05, anneal_epochs=3)` (cosine), then linear over 4, then 0 epochs.
    @Test func swalr() {
        expectClose(schedule { SWALR(optimizer: $0, swaLearningRate: 0.05, annealEpochs: 3) }.rates.prefix(9).map { $0 },
                    [1.0, 0.7625, 0.2875000000000001, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05])
        expectClose(schedule { SWALR(optimizer: $0, swaLearningRate: 0.05, annealEpochs: 4, annealing: .linear) }.rates.prefix(9).map { $0 },
                    [1.0, 0.7625, 0.525, 0.2875, 0.05, 0.05, 0.05, 0.05, 0.05])
        expectClose(schedule { SWALR(optimizer: $0, swaLearningRate: 0.2, annealEpochs: 0) }.rates.prefix(9).map { $0 },
                    Array(repeating: 0.2, count: 9))
    }
}
