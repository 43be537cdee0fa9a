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
