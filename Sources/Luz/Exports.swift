// `import Luz` brings in everything a training script needs.
@_exported import LuzTensor
@_exported import LuzSerialization
@_exported import LuzNN
@_exported import LuzOptim
@_exported import LuzData
