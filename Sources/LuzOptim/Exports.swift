@_exported import LuzTensor
@_exported import LuzSerialization
