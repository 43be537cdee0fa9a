// Weight and checkpoint files.
export {
  encodeSafetensors,
  decodeSafetensors,
  saveSafetensors,
  loadSafetensors,
  tensorsToEntries,
  entriesToTensors,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsContents,
} from './safetensors.js';
export {
  loadTorchWeights,
  saveTorchWeights,
  encodeTorchWeights,
  decodeTorchWeights,
  fromTorchLayout,
  toTorchLayout,
  type LoadTorchOptions,
  type LoadTorchResult,
  type TorchFormat,
} from './torch.js';
export { decodePth, encodePth, type TorchEntry } from './pth.js';
