// conv_fwd_scalar_x (included by conv2d_fwd_cout4_regs and conv2d_fwd_cout4_regs8): a quad's inputs at one
// input channel for x as f32 (any Cin), and the outer product that spreads them over a vec4 group of w.
/** Four rows' input channel c (zero where the window is in the padding). */
fn rows(t: Taps, c: u32) -> vec4f {
  return select(vec4f(0.0), vec4f(x[t.at.x + c], x[t.at.y + c], x[t.at.z + c], x[t.at.w + c]), t.ok);
}

/** Four rows' contributions v * w to one output group: column i = row i's input times the filter row w. */
fn outer(w: vec4f, v: vec4f) -> mat4x4f {
  return mat4x4f(w * v.x, w * v.y, w * v.z, w * v.w);
}
