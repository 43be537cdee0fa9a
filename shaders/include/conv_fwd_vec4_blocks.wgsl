// conv_fwd_vec4_blocks (included by conv2d_fwd_vec4_regs and conv2d_fwd_vec4_regs8): a quad's inputs and the
// filter's 4x4 blocks as mat4x4f, for x and w both vec4 along the channel axis.
/** Four rows' inputs at channel group c, one row per column (zero where the window is in the padding). */
fn rows(t: Taps, c: u32) -> mat4x4f {
  let z = vec4f(0.0);
  return mat4x4f(select(z, x[t.at.x + c], t.ok.x), select(z, x[t.at.y + c], t.ok.y),
    select(z, x[t.at.z + c], t.ok.z), select(z, x[t.at.w + c], t.ok.w));
}

/** The 4x4 block of w at filter row k (4 input channels from k) and output group co4: column i = channel k + i. */
fn block(k: u32, co4: u32) -> mat4x4f {
  let cout4 = p.cout / 4u;
  let b = k * cout4 + co4;
  return mat4x4f(wt[b], wt[b + cout4], wt[b + 2u * cout4], wt[b + 3u * cout4]);
}
