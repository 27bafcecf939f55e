import functools
import typing

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hopjax import dynamics, metrics, patterns, rules


def test_hebb_symmetric_zero_diagonal_and_scale():
    xi = patterns.random(jax.random.key(0), 10, 100)
    J = rules.hebb(xi)
    np.testing.assert_array_equal(J, J.T)
    assert float(jnp.abs(jnp.diag(J)).max()) == 0.0
    expected = np.asarray(xi).T @ np.asarray(xi) / 100
    np.fill_diagonal(expected, 0)
    np.testing.assert_allclose(J, expected, atol=1e-6)
    np.testing.assert_allclose(rules.hebb(xi, normalization="P"), expected * 100 / 10, atol=1e-6)


def test_hebb_online_equals_batch_and_mask_equals_subset():
    xi = patterns.random(jax.random.key(1), 6, 50)
    J = jnp.zeros((50, 50))
    for x in xi:
        J = rules.hebb_add(J, x)
    np.testing.assert_allclose(J, rules.hebb(xi), atol=1e-6)
    mask = jnp.array([True, True, False, True, False, False])
    np.testing.assert_array_equal(rules.hebb(xi, mask), rules.hebb(xi[np.asarray(mask)]))


def test_hebb_stores_patterns_at_low_load():
    # P = 5 << N / (4 ln N) = 20 at N = 500 (McEliece et al. 1987): every pattern is stable
    xi = patterns.random(jax.random.key(2), 5, 500)
    assert float(metrics.stable_fraction(rules.hebb(xi), xi)) == 1.0


@pytest.mark.parametrize("alpha", [0.3, 0.6, 0.9])
def test_pseudo_inverse_is_projector_and_stores_up_to_alpha_1(alpha):
    N = 200
    xi = patterns.random(jax.random.key(3), round(alpha * N), N)
    J = rules.pseudo_inverse(xi)
    np.testing.assert_allclose(J, J.T, atol=1e-5)
    # with the diagonal restored J is the projector onto span(ξ): J ξ = ξ, so the field on
    # every spin is ξ_i (1 - J_ii) with J_ii = P/N on average
    h = xi @ J
    np.testing.assert_allclose(h * xi, np.broadcast_to(1 - _projector_diag(xi), h.shape), atol=5e-4)
    assert float(metrics.stable_fraction(J, xi)) == 1.0


def _projector_diag(xi):
    xi = np.asarray(xi, np.float64)
    proj = xi.T @ np.linalg.solve(xi @ xi.T, xi)
    return np.diag(proj)


def test_pseudo_inverse_with_mask_equals_subset():
    xi = patterns.random(jax.random.key(4), 40, 100)
    mask = patterns.count_mask(25, 40)
    np.testing.assert_allclose(rules.pseudo_inverse(xi, mask), rules.pseudo_inverse(xi[:25]),
                               atol=2e-5)


def test_rules_accept_zero_padded_rows():
    xi = patterns.random(jax.random.key(5), 4, 30)
    padded, mask = patterns.pad(xi, 7)
    np.testing.assert_array_equal(rules.hebb(padded, mask), rules.hebb(xi))
    with pytest.raises(ValueError, match="±1"):
        rules.hebb(padded)  # without the mask the zero rows are not spins


def test_rules_reject_non_spin_patterns():
    with pytest.raises(ValueError, match="±1"):
        rules.hebb(jnp.full((3, 10), 0.3))
    with pytest.raises(ValueError, match="±1"):
        rules.pseudo_inverse(jnp.zeros((3, 10)))


# ---------------------------------------------------------------- the iterative-rule protocol

def _run(rule, xi, steps=6, key=7):
    """J after ``steps`` updates of an iterative rule (no `train`: the protocol alone)."""
    state = rule.init(jax.random.key(key), xi)
    for t in range(steps):
        state, info = rule.update(jax.random.fold_in(jax.random.key(key + 1), t), state, xi)
    return state, info


def test_iterative_rules_share_one_protocol_and_their_constructor_names():
    from hopjax.rules.base import IterativeRule, RuleState

    xi = patterns.random(jax.random.key(0), 8, 40)
    built = {rules.daydreaming(10.0): rules.Daydreaming,
             rules.centred_daydreaming(10.0, 0.2): rules.Daydreaming,
             rules.unlearning_rule(0.01): rules.Unlearning}
    for rule, kind in built.items():
        assert isinstance(rule, IterativeRule) and isinstance(rule, kind)
        state = rule.init(jax.random.key(1), xi)
        assert isinstance(state, RuleState) and state.J.shape == (40, 40)
    assert rules.daydreaming_rule is rules.daydreaming
    assert rules.centred_daydreaming_rule is rules.centred_daydreaming


@pytest.mark.parametrize("build, relax", [
    (lambda **kw: rules.daydreaming(10.0, batch=2, **kw), None),
    (lambda **kw: rules.unlearning_rule(0.05, **kw), None),
    (lambda **kw: rules.centred_daydreaming(10.0, 0.3, **kw),
     functools.partial(rules.centred_relax, a=0.3, mode="sync")),
])
def test_a_relax_function_gives_the_same_couplings_as_the_dynamics_options(build, relax):
    xi = patterns.biased(jax.random.key(2), 10, 60, 0.3)
    relax = relax or functools.partial(dynamics.relax, mode="sync")
    by_option, info_o = _run(build(mode="sync"), xi)
    by_function, info_f = _run(build(relax=relax), xi)
    np.testing.assert_array_equal(by_function.J, by_option.J)
    jax.tree.map(np.testing.assert_array_equal, info_f, info_o)
    assert not np.array_equal(by_option.J, _run(build(), xi)[0].J)  # sync ≠ async: a real test


def test_a_custom_relax_function_drives_the_dreams():
    xi = patterns.random(jax.random.key(3), 6, 30)
    calls = []

    def frozen_dreams(key, J, sigma):  # dreams never move: ΔJ = (ξξᵀ − σ₀σ₀ᵀ)/(τN)
        calls.append(sigma.shape)
        return dynamics.relax(key, J, sigma, frozen=True)

    rule = rules.daydreaming(5.0, normalize=None, relax=frozen_dreams)
    state = rule.init(jax.random.key(4), xi)
    key = jax.random.key(5)
    new, info = rule.update(key, state, xi)
    k_start, _, k_mu = jax.random.split(key, 3)
    s = jax.random.rademacher(k_start, (1, 30), dtype=jnp.float32)
    x = xi[jax.random.randint(k_mu, (1,), 0, 6)]
    np.testing.assert_allclose(new.J - state.J, (x.T @ x - s.T @ s) / (5.0 * 30), atol=1e-7)
    assert calls == [(1, 30)] and float(info.sweeps) == 0.0 and float(info.converged) == 1.0


def test_relax_function_with_dynamics_options_is_a_clear_error():
    relax = functools.partial(dynamics.relax, mode="sync")
    for build, field in ((lambda: rules.daydreaming(10.0, relax=relax, max_sweeps=5),
                          "max_sweeps"),
                         (lambda: rules.unlearning_rule(0.1, relax=relax, mode="sync"), "mode"),
                         (lambda: rules.centred_daydreaming(10.0, 0.2, relax=relax,
                                                            method="plain"), "method"),
                         (lambda: rules.centred_daydreaming(10.0, 0.2, relax=relax, theta=0.2),
                          "theta")):
        with pytest.raises(TypeError, match=field):
            build()
    with pytest.raises(TypeError, match="relax must be a function"):
        rules.daydreaming(10.0, relax="sync")


def test_train_needs_the_state_protocol_or_an_explicit_epoch():
    class State(typing.NamedTuple):
        J: jax.Array

    hebb_only = rules.IterativeRule(lambda key, xi, mask: State(rules.hebb(xi, mask)),
                                    lambda key, state, xi, mask: (state, {}))
    xi = patterns.random(jax.random.key(6), 4, 20)
    with pytest.raises(TypeError, match="steps_per_epoch"):
        rules.train(jax.random.key(0), hebb_only, xi, epochs=1)
    _, rec = rules.train(jax.random.key(0), hebb_only, xi, epochs=2, record=[0, 2],
                         steps_per_epoch="P")
    assert rec.steps.tolist() == [0, 8]
