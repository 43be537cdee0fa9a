// Channel vectorization for NHWC kernels: vec4 lanes when the channel count allows, scalar otherwise.

/** How a channel-last kernel reads its channels: `lanes` per element and the shader regions that say so. */
export interface ChannelLanes {
  lanes: 1 | 4;
  /** Channel groups per pixel (channels / lanes): the innermost extent the shader indexes. */
  groups: number;
  /** Region text for the shader's `VEC` alias (and `IVEC` for int32 buffers); empty for the vec4 default. */
  regions: Record<string, string>;
}

/**
 * vec4 lanes when `channels % 4 == 0` (the WGSL files default to `alias V = vec4<f32>`), else one channel per
 * invocation. `withInt` also switches the int32 alias `VI` (max pooling's argmax).
 */
export function channelLanes(channels: number, withInt = false): ChannelLanes {
  if (channels % 4 === 0) return { lanes: 4, groups: channels / 4, regions: {} };
  const regions: Record<string, string> = { VEC: 'alias V = f32;' };
  if (withInt) regions.IVEC = 'alias VI = i32;';
  return { lanes: 1, groups: channels, regions };
}
