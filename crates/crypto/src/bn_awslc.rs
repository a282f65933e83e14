//! Constant-time `base^e mod N` for the SRP group through aws-lc's
//! `BN_mod_exp_mont_consttime`, which is about twice as fast as crypto-bigint's generic
//! exponentiation on x86-64 (assembly Montgomery multiplication, see the `srp` benches).
//!
//! This is the crate's only `unsafe` code. Every raw pointer lives inside an owning wrapper whose
//! `Drop` frees it, so no early return can leak or double-free. Any failure reported by aws-lc
//! turns into `None` and the caller falls back to the pure-Rust path.

use std::ptr;
use std::sync::OnceLock;

use aws_lc_sys as sys;
use crypto_bigint::{U256, U3072};

const N_BYTES: usize = 384;

/// Owned `BIGNUM`, wiped on drop because bases and exponents may be secret.
struct Bn(ptr::NonNull<sys::BIGNUM>);

impl Bn {
    fn from_be(bytes: &[u8]) -> Option<Bn> {
        // SAFETY: `bytes` is a valid slice for the given length; a null `ret` asks aws-lc to
        // allocate a fresh BIGNUM, which we take ownership of.
        let p = unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), ptr::null_mut()) };
        ptr::NonNull::new(p).map(Bn)
    }

    fn new() -> Option<Bn> {
        // SAFETY: plain allocation; ownership moves into the wrapper.
        ptr::NonNull::new(unsafe { sys::BN_new() }).map(Bn)
    }

    fn to_be_fixed(&self) -> Option<[u8; N_BYTES]> {
        let mut out = [0u8; N_BYTES];
        // SAFETY: `out` is writable for N_BYTES bytes; the BIGNUM is valid for the call.
        let ok = unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), out.len(), self.0.as_ptr()) };
        (ok == 1).then_some(out)
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: we own the pointer and it is freed exactly once, here.
        unsafe { sys::BN_clear_free(self.0.as_ptr()) }
    }
}

struct Ctx(ptr::NonNull<sys::BN_CTX>);

impl Ctx {
    fn new() -> Option<Ctx> {
        // SAFETY: plain allocation; ownership moves into the wrapper.
        ptr::NonNull::new(unsafe { sys::BN_CTX_new() }).map(Ctx)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: owned, freed once.
        unsafe { sys::BN_CTX_free(self.0.as_ptr()) }
    }
}

/// The modulus and its Montgomery context, built once and then only read.
struct Group {
    n: Bn,
    mont: ptr::NonNull<sys::BN_MONT_CTX>,
}

// SAFETY: after construction neither the BIGNUM nor the BN_MONT_CTX is ever mutated; aws-lc only
// reads them through `const` pointers, so sharing them across threads is sound.
unsafe impl Send for Group {}
// SAFETY: see `Send`.
unsafe impl Sync for Group {}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: owned, freed once (in practice the static is never dropped).
        unsafe { sys::BN_MONT_CTX_free(self.mont.as_ptr()) }
    }
}

fn group() -> Option<&'static Group> {
    static GROUP: OnceLock<Option<Group>> = OnceLock::new();
    GROUP
        .get_or_init(|| {
            let n = Bn::from_be(&crate::srp::modulus_be())?;
            let ctx = Ctx::new()?;
            // SAFETY: `n` and `ctx` are valid for the call; the returned context is owned by
            // `Group` from here on.
            let mont = unsafe { sys::BN_MONT_CTX_new_for_modulus(n.0.as_ptr(), ctx.0.as_ptr()) };
            let mont = ptr::NonNull::new(mont)?;
            Some(Group { n, mont })
        })
        .as_ref()
}

fn be_bytes<const L: usize>(n: &crypto_bigint::Uint<L>) -> Vec<u8> {
    let word = std::mem::size_of::<crypto_bigint::Word>();
    let mut out = vec![0u8; L * word];
    for (chunk, w) in out.chunks_exact_mut(word).zip(n.as_words().iter().rev()) {
        chunk.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// `base^e mod N` in constant time with respect to `e` (and `base`). `base` must be below `N`.
/// The exponent is passed as a full 32-byte BIGNUM, and aws-lc iterates over all of its words,
/// so leading zero bits of a secret exponent are not leaked either.
pub(crate) fn mod_exp_consttime(base: &U3072, e: &U256) -> Option<U3072> {
    mod_exp(base, e, true)
}

/// `base^e mod N` where `e` is public (aws-lc's sliding-window `BN_mod_exp_mont`).
pub(crate) fn mod_exp_public(base: &U3072, e: &U256) -> Option<U3072> {
    mod_exp(base, e, false)
}

fn mod_exp(base: &U3072, e: &U256, consttime: bool) -> Option<U3072> {
    let g = group()?;
    let mut base_be = be_bytes(base);
    let mut e_be = be_bytes(e);
    let a = Bn::from_be(&base_be);
    let p = Bn::from_be(&e_be);
    base_be.iter_mut().for_each(|b| *b = 0);
    e_be.iter_mut().for_each(|b| *b = 0);
    let (a, p) = (a?, p?);
    let r = Bn::new()?;
    let ctx = Ctx::new()?;
    let f = if consttime { sys::BN_mod_exp_mont_consttime } else { sys::BN_mod_exp_mont };
    // SAFETY: all pointers are valid, owned by live wrappers, and `r` does not alias the inputs.
    let ok = unsafe { f(r.0.as_ptr(), a.0.as_ptr(), p.0.as_ptr(), g.n.0.as_ptr(), ctx.0.as_ptr(), g.mont.as_ptr()) };
    if ok != 1 {
        return None;
    }
    let mut out = r.to_be_fixed()?;
    let value = U3072::from_be_slice(&out);
    out.iter_mut().for_each(|b| *b = 0);
    Some(value)
}

/// Running product of Montgomery-form values, using aws-lc's assembly Montgomery multiplication
/// (roughly twice as fast as crypto-bigint's portable one). Both libraries use R = 2^3072 for this
/// 48-word modulus, so Montgomery representations are interchangeable. Values cross the boundary
/// as 384-byte little-endian strings; all operands have the full 48-word width, which keeps
/// aws-lc on its constant-time `bn_mul_mont` path.
pub(crate) struct MontProduct {
    acc: Bn,
    factor: Bn,
    out: Bn,
    ctx: Ctx,
    group: &'static Group,
}

impl MontProduct {
    /// Starts the product at `first` (Montgomery form, little-endian, < N).
    pub(crate) fn new(first: &[u8; N_BYTES]) -> Option<Self> {
        let group = group()?;
        let acc = Bn::new()?;
        // SAFETY: `first` is readable for N_BYTES; `acc` is a valid BIGNUM we own, reused as the
        // destination.
        if unsafe { sys::BN_le2bn(first.as_ptr(), first.len(), acc.0.as_ptr()) }.is_null() {
            return None;
        }
        Some(MontProduct { acc, factor: Bn::new()?, out: Bn::new()?, ctx: Ctx::new()?, group })
    }

    /// `acc ← acc · factor · R⁻¹ mod N`.
    pub(crate) fn mul(&mut self, factor: &[u8; N_BYTES]) -> Option<()> {
        // SAFETY: as in `new`; the BIGNUM is reused, so no allocation happens after the first call.
        let p = unsafe { sys::BN_le2bn(factor.as_ptr(), factor.len(), self.factor.0.as_ptr()) };
        if p.is_null() {
            return None;
        }
        // SAFETY: all BIGNUMs are valid and distinct from `out`; the Montgomery context belongs
        // to the shared, read-only group.
        let ok = unsafe {
            sys::BN_mod_mul_montgomery(
                self.out.0.as_ptr(),
                self.acc.0.as_ptr(),
                self.factor.0.as_ptr(),
                self.group.mont.as_ptr(),
                self.ctx.0.as_ptr(),
            )
        };
        if ok != 1 {
            return None;
        }
        std::mem::swap(&mut self.acc, &mut self.out);
        Some(())
    }

    /// The product, Montgomery form, little-endian.
    pub(crate) fn finish(self) -> Option<[u8; N_BYTES]> {
        let mut out = [0u8; N_BYTES];
        // SAFETY: `out` is writable for N_BYTES; `acc` is valid.
        let ok = unsafe { sys::BN_bn2le_padded(out.as_mut_ptr(), out.len(), self.acc.0.as_ptr()) };
        (ok == 1).then_some(out)
    }
}
