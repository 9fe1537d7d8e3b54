import Foundation
import LuzNN
import LuzOptim
import LuzTestSupport
import Testing

/// The learning rates of epochs 0…`epochs` under a scheduler made for an optimizer with rate 1.
private func rates(_ epochs: Int, _ make: (Optimizer) -> LRScheduler) -> [Double] {
    let optimizer = SGD([Tensor.zeros([1], requiresGrad: true)], learningRate: 1)
    let scheduler = make(optimizer)
    var result = [optimizer.learningRate]
    for _ in 0..<epochs {
        scheduler.step()
        result.append(optimizer.learningRate)
        #expect(scheduler.learningRates == [optimizer.learningRate])
    }
    return result
}

private func expectRates(_ actual: [Double], _ expected: [Double], sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (epoch, (a, e)) in zip(actual, expected).enumerated() {
        #expect(abs(a - e) <= 1e-12 * max(1, abs(e)), "epoch \(epoch): \(a) vs \(e)", sourceLocation: sourceLocation)
    }
}

@Suite("Learning-rate schedulers")
struct SchedulerTests {
    @Test func stepLR() {
        expectRates(rates(6) { StepLR(optimizer: $0, stepSize: 2, gamma: 0.5) }, [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125])
    }

    @Test func multiStepLR() {
        // A repeated milestone decays twice.
        expectRates(rates(6) { MultiStepLR(optimizer: $0, milestones: [5, 2, 5]) }, [1, 1, 0.1, 0.1, 0.1, 0.001, 0.001])
    }

    @Test func exponentialLR() {
        expectRates(rates(4) { ExponentialLR(optimizer: $0, gamma: 0.9) }, (0...4).map { pow(0.9, Double($0)) })
    }

    @Test func cosineAnnealingLR() {
        // η_min + (γ − η_min)·(1 + cos(π·t / T_max)) / 2, also past T_max.
        let expected = (0...10).map { 0.1 + 0.9 * (1 + cos(Double.pi * Double($0) / 4)) / 2 }
        expectRates(rates(10) { CosineAnnealingLR(optimizer: $0, maximumEpochs: 4, minimumLearningRate: 0.1) }, expected)
    }

    @Test func lambdaLR() {
        expectRates(rates(4) { LambdaLR(optimizer: $0) { 1 / Double($0 + 1) } }, [1, 0.5, 1.0 / 3, 0.25, 0.2])
    }

    @Test func oneCycleLRAndItsMomentum() {
        let optimizer = Adam([Tensor.zeros([1], requiresGrad: true)])
        let scheduler = OneCycleLR(optimizer: optimizer, maximumLearningRate: 1, totalSteps: 10)
        var lrs = [optimizer.learningRate], momenta = [optimizer.beta1]
        for _ in 0..<9 {
            scheduler.step()
            lrs.append(optimizer.learningRate)
            momenta.append(optimizer.beta1)
        }
        // Warm-up over steps 0…2 (0.3·10 − 1 = 2) from 1/25 to 1, then annealing over 2…9 to 1/25/1e4.
        let initial = 0.04, minimum = 0.04 / 1e4
        func cosine(_ from: Double, _ to: Double, _ pct: Double) -> Double { to + (from - to) / 2 * (1 + cos(Double.pi * pct)) }
        let expectedRates = (0...9).map { t in
            t <= 2 ? cosine(initial, 1, Double(t) / 2) : cosine(1, minimum, Double(t - 2) / 7)
        }
        let expectedMomenta = (0...9).map { t in
            t <= 2 ? cosine(0.95, 0.85, Double(t) / 2) : cosine(0.85, 0.95, Double(t - 2) / 7)
        }
        expectRates(lrs, expectedRates)
        expectRates(momenta, expectedMomenta)
        #expect(abs(lrs[1] - 0.52) < 1e-12 && abs(momenta[1] - 0.9) < 1e-12)
    }

    @Test func oneCycleLRLinearAndThreePhase() {
        let linear = rates(9) { OneCycleLR(optimizer: $0, maximumLearningRate: 1, totalSteps: 10, annealing: .linear,
                                           cycleMomentum: false) }
        #expect(abs(linear[1] - (0.04 + 0.96 / 2)) < 1e-12)
        #expect(abs(linear[9] - 4e-6) < 1e-15)
        // Three phases: up to max at step 2, back to the initial rate at step 4, then to the minimum.
        let three = rates(9) { OneCycleLR(optimizer: $0, maximumLearningRate: 1, totalSteps: 10, threePhase: true) }
        expectRates([three[0], three[2], three[4], three[9]], [0.04, 1, 0.04, 4e-6])
    }

    @Test func schedulersRespectParameterGroups() {
        let optimizer = SGD(groups: [ParameterGroup([Tensor.zeros([1], requiresGrad: true)], learningRate: 1),
                                     ParameterGroup([Tensor.zeros([1], requiresGrad: true)], learningRate: 0.1)])
        let scheduler = StepLR(optimizer: optimizer, stepSize: 1, gamma: 0.5)
        scheduler.step()
        expectRates(optimizer.parameterGroups.map(\.learningRate), [0.5, 0.05])
        #expect(scheduler.baseLearningRates == [1, 0.1])
    }

    @Test func reduceLROnPlateauWaitsForPatience() {
        let optimizer = SGD([Tensor.zeros([1], requiresGrad: true)], learningRate: 1)
        let scheduler = ReduceLROnPlateau(optimizer: optimizer, factor: 0.5, patience: 2)
        var lrs: [Double] = []
        for metric in [1, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.79995] {
            scheduler.step(metric: metric)
            lrs.append(optimizer.learningRate)
        }
        // Reduced after the third epoch without improvement; 0.79995 is within the relative
        // threshold (1e-4) of the best 0.8, so it does not count as better.
        expectRates(lrs, [1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25])
        #expect(scheduler.best == 0.8 && scheduler.badEpochs == 1)
    }

    @Test func reduceLROnPlateauMaxModeCooldownAndFloor() throws {
        let optimizer = SGD([Tensor.zeros([1], requiresGrad: true)], learningRate: 1)
        let scheduler = ReduceLROnPlateau(optimizer: optimizer, mode: .max, factor: 0.1, patience: 0, threshold: 0.5,
                                          thresholdMode: .absolute, cooldown: 1, minimumLearningRate: 0.005)
        var lrs: [Double] = []
        for metric in [1.0, 1.4, 1.4, 1.4, 1.4, 3.0] {
            scheduler.step(metric: metric)
            lrs.append(optimizer.learningRate)
        }
        // 1.4 is not > 1 + 0.5: reduce at once (patience 0), then one epoch of cooldown.
        expectRates(lrs, [1, 0.1, 0.1, 0.01, 0.01, 0.01])
        scheduler.step(metric: 0)
        #expect(abs(optimizer.learningRate - 0.005) < 1e-15)     // floored at the minimum
        let saved = scheduler.stateDict()
        let restored = ReduceLROnPlateau(optimizer: optimizer, mode: .max)
        try restored.loadStateDict(saved)
        #expect(restored.best == 3 && restored.lastEpoch == 7)
    }

    @Test func schedulerStateRoundTrips() throws {
        let optimizer = SGD([Tensor.zeros([1], requiresGrad: true)], learningRate: 1)
        let scheduler = StepLR(optimizer: optimizer, stepSize: 2, gamma: 0.5)
        for _ in 0..<3 { scheduler.step() }
        let resumed = StepLR(optimizer: optimizer, stepSize: 2, gamma: 0.5)
        try resumed.loadStateDict(scheduler.stateDict())
        #expect(resumed.lastEpoch == 3)
        resumed.step()
        #expect(optimizer.learningRate == 0.25)
    }
}
