/**
 * Small dense float64 linear algebra for anchors (C ≤ a few thousand): Householder QR and a
 * symmetric eigendecomposition (Householder tridiagonalisation + implicit QL). Plain
 * JavaScript loops over row- or column-contiguous memory; no tfjs (float32 is not enough
 * for ‖QᵀQ − I‖ < 1e-5 after a C = 1000 orthogonalization, and these run once per model).
 *
 * @module
 */

/** A thin QR factorisation of an `m × n` matrix (m ≥ n). */
export interface ThinQR {
  /** Q's columns, stored column-major: column j is `q[j*m .. j*m+m)`. */
  q: Float64Array;
  /** diag(R) (all ≥ 0 after the sign convention). */
  rDiag: Float64Array;
  m: number;
  n: number;
}

/**
 * Householder QR of an `m × n` matrix given column-major (`cols[j*m + i]` = A[i][j]),
 * m ≥ n. Returns thin Q (m × n, column-major) with the sign convention diag(R) ≥ 0, so
 * that column j of Q is what Gram–Schmidt on columns 0..j would give.
 *
 * @example
 * ```ts
 * const { q, rDiag } = householderQR(Float64Array.from([3, 4, 1, 0]), 2, 2);
 * // q's first column is [0.6, 0.8]; rDiag[0] = 5
 * ```
 */
export function householderQR(cols: Float64Array, m: number, n: number): ThinQR {
  if (m < n) throw new Error(`householderQR: needs m ≥ n, got ${m} × ${n}`);
  const a = Float64Array.from(cols);
  const vs: Float64Array[] = [];
  const rDiag = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // The reflector only needs the rows down to the column's last non-zero: for sparse,
    // banded columns (e.g. anchors lifted by [T; εI]) that halves the work.
    let end = m;
    while (end > k + 1 && a[k * m + end - 1] === 0) end--;
    const len = end - k;
    const v = new Float64Array(len);
    let norm2 = 0;
    for (let i = 0; i < len; i++) {
      v[i] = a[k * m + k + i];
      norm2 += v[i] * v[i];
    }
    const norm = Math.sqrt(norm2);
    // reflect x onto alpha·e1 with alpha of the opposite sign of x0 (no cancellation)
    const alpha = v[0] >= 0 ? -norm : norm;
    rDiag[k] = alpha;
    v[0] -= alpha;
    let vn2 = 0;
    for (let i = 0; i < len; i++) vn2 += v[i] * v[i];
    if (vn2 === 0) {
      vs.push(v); // zero column: identity reflector
      continue;
    }
    const inv = 1 / Math.sqrt(vn2);
    for (let i = 0; i < len; i++) v[i] *= inv;
    vs.push(v);
    for (let j = k; j < n; j++) {
      const off = j * m + k;
      let s = 0;
      for (let i = 0; i < len; i++) s += v[i] * a[off + i];
      s *= 2;
      for (let i = 0; i < len; i++) a[off + i] -= s * v[i];
    }
  }
  // Q = H_0 H_1 … H_{n-1} [I_n; 0]: apply reflectors from the last to the first.
  const q = new Float64Array(m * n);
  for (let j = 0; j < n; j++) q[j * m + j] = 1;
  for (let k = n - 1; k >= 0; k--) {
    const v = vs[k];
    const len = v.length;
    for (let j = k; j < n; j++) {
      const off = j * m + k;
      let s = 0;
      for (let i = 0; i < len; i++) s += v[i] * q[off + i];
      if (s === 0) continue;
      s *= 2;
      for (let i = 0; i < len; i++) q[off + i] -= s * v[i];
    }
  }
  for (let j = 0; j < n; j++) {
    if (rDiag[j] < 0) {
      rDiag[j] = -rDiag[j];
      for (let i = 0; i < m; i++) q[j * m + i] = -q[j * m + i];
    }
  }
  return { q, rDiag, m, n };
}

/** Eigenvalues (ascending) and eigenvectors of a symmetric matrix. */
export interface SymmetricEigen {
  values: Float64Array;
  /** Row-major `n × n`: row k is the unit eigenvector of `values[k]`. */
  vectors: Float64Array;
}

/**
 * Eigendecomposition of a symmetric `n × n` matrix (row-major; only symmetry is assumed,
 * both triangles are read). Householder reduction to tridiagonal form, then the implicit
 * QL algorithm with shifts; O(n³), about a second for n = 1000.
 *
 * @example
 * ```ts
 * const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 1, 2]), 2);
 * // values [1, 3]; vectors rows ±[0.707, -0.707], ±[0.707, 0.707]
 * ```
 */
export function symmetricEigen(matrix: Float64Array, n: number): SymmetricEigen {
  if (matrix.length !== n * n) throw new Error(`symmetricEigen: ${matrix.length} values for ${n}²`);
  const a = Float64Array.from(matrix);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  const us: (Float64Array | null)[] = new Array(n).fill(null);
  const hs = new Float64Array(n);
  // Tridiagonalise: for i = n-1 … 1, a reflector P = I − u uᵀ/h on indices 0..i-1 zeroes
  // row i left of the subdiagonal; A_block ← P A_block P (kept full and symmetric so that
  // every loop runs along rows).
  for (let i = n - 1; i > 0; i--) {
    const l = i - 1;
    const row = i * n;
    if (l === 0) {
      e[i] = a[row];
      d[i] = a[row + i];
      continue;
    }
    let scale = 0;
    for (let k = 0; k <= l; k++) scale += Math.abs(a[row + k]);
    if (scale === 0) {
      e[i] = 0;
      d[i] = a[row + i];
      continue;
    }
    const u = new Float64Array(i);
    let sigma = 0;
    for (let k = 0; k <= l; k++) {
      u[k] = a[row + k] / scale;
      sigma += u[k] * u[k];
    }
    const f = u[l];
    const g = f >= 0 ? -Math.sqrt(sigma) : Math.sqrt(sigma);
    e[i] = scale * g;
    const h = sigma - f * g;
    u[l] = f - g;
    // p = A u / h, K = uᵀp / 2h, q = p − K u, A -= q uᵀ + u qᵀ
    const p = new Float64Array(i);
    let up = 0;
    for (let j = 0; j <= l; j++) {
      const rj = j * n;
      let s = 0;
      for (let k = 0; k <= l; k++) s += a[rj + k] * u[k];
      p[j] = s / h;
      up += u[j] * p[j];
    }
    const K = up / (2 * h);
    for (let j = 0; j <= l; j++) p[j] -= K * u[j];
    for (let j = 0; j <= l; j++) {
      const rj = j * n, qj = p[j], uj = u[j];
      for (let k = 0; k <= l; k++) a[rj + k] -= qj * u[k] + uj * p[k];
    }
    us[i] = u;
    hs[i] = h;
    d[i] = a[row + i];
  }
  d[0] = a[0];
  e[0] = 0;
  // z = Qᵀ = P_1 P_2 … P_{n-1} (rows will become the eigenvectors). P_i only touches the
  // leading i×i block, and P_1…P_{i-1} is the identity outside it, so work there only.
  const z = new Float64Array(n * n);
  for (let k = 0; k < n; k++) z[k * n + k] = 1;
  for (let i = 1; i < n; i++) {
    const u = us[i];
    if (!u) continue;
    const h = hs[i];
    for (let r = 0; r < i; r++) {
      const rr = r * n;
      let s = 0;
      for (let c = 0; c < i; c++) s += z[rr + c] * u[c];
      if (s === 0) continue;
      s /= h;
      for (let c = 0; c < i; c++) z[rr + c] -= s * u[c];
    }
  }
  tridiagonalQL(d, e, z, n);
  // sort ascending (selection sort on indices; rows permuted once)
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x] - d[y]);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    values[dst] = d[src];
    vectors.set(z.subarray(src * n, src * n + n), dst * n);
  });
  return { values, vectors };
}

/**
 * Implicit QL with shifts on the symmetric tridiagonal (d: diagonal, e[i]: entry (i, i−1)),
 * rotating the rows of z (`z ← Gᵀ z`) so that its rows end as the eigenvectors.
 */
function tridiagonalQL(d: Float64Array, e: Float64Array, z: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let shiftSum = 0;
  let tst = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst = Math.max(tst, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > eps * tst) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) throw new Error("symmetricEigen: QL iteration did not converge");
        // shift from the leading 2×2 block
        const g0 = d[l];
        let p = (d[l + 1] - g0) / (2 * e[l]);
        let r = Math.hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g0 - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        shiftSum += h;
        // QL sweep from m−1 down to l
        p = d[m];
        let c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const el1 = e[l + 1];
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          const g = c * e[i];
          h = c * p;
          r = Math.hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          const ri = i * n, rj = (i + 1) * n;
          for (let k = 0; k < n; k++) {
            const zi = z[ri + k], zj = z[rj + k];
            z[rj + k] = s * zi + c * zj;
            z[ri + k] = c * zi - s * zj;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst);
    }
    d[l] += shiftSum;
    e[l] = 0;
  }
}
