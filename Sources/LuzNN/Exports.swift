@_exported import LuzTensor
