"""Recipes: shipped files load, every field is overridable, bad fields/values name the field."""

from __future__ import annotations

import pytest

from hwprune.errors import ConfigError
from hwprune.recipe import (
    FLAG_FIELDS,
    Recipe,
    field_names,
    list_recipes,
    load_recipe,
    parse_set_options,
)


def test_shipped_recipes_load():
    names = list_recipes()
    for required in ("digits-mlp", "digits-cnn", "mnist-tfc", "fashion-cnv"):
        assert required in names
    for name in names:
        r = load_recipe(name)
        assert r.name == name
        assert r.budget.trials > 0 and "accuracy" in r.objectives


def test_default_recipe_is_digits_mlp():
    r = load_recipe()
    assert (r.name, r.dataset, r.model) == ("digits-mlp", "digits", "mlp-digits")


def test_every_field_overridable_from_strings():
    """Every dotted field accepts a CLI string of the right type and round-trips."""
    base = load_recipe("digits-mlp")
    data = base.to_dict()
    for name in field_names():
        section, _, key = name.partition(".")
        value = data[section][key] if key else data[section]
        if isinstance(value, bool):
            text = "false" if value else "true"
        elif isinstance(value, list):
            text = ",".join(str(v) for v in value) if value else "8"
        else:
            text = str(value)
        if name == "study.folding":
            continue  # 'smallest' needs min_fps; checked separately
        r = base.with_overrides({name: text})
        got = r.to_dict()
        got_value = got[section][key] if key else got[section]
        if isinstance(value, bool):
            assert got_value is (not value), name
        elif isinstance(value, list) and value:
            assert got_value == value, name
        elif not isinstance(value, list):
            assert str(got_value) == str(value) or float(got_value) == float(value), name


def test_named_flags_map_to_real_fields():
    names = set(field_names())
    for flag, dotted in FLAG_FIELDS.items():
        assert dotted in names, flag


@pytest.mark.parametrize(
    "overrides, needle",
    [
        ({"budget.trails": 3}, "budget.trails"),
        ({"nosuch": 1}, "nosuch"),
        ({"budget.trials": "many"}, "budget.trials"),
        ({"budget.trials": 0}, "budget.trials"),
        ({"budget.trials": 2.5}, "budget.trials"),
        ({"constraints.min_fps": -1}, "constraints.min_fps"),
        ({"constraints.min_fps": "fast"}, "constraints.min_fps"),
        ({"space.wbits": "1,2,9"}, "space.wbits"),
        ({"space.wbits": "a,b"}, "space.wbits"),
        ({"space.abits": ""}, "space.abits"),
        ({"study.select": "best"}, "study.select"),
        ({"study.sampler": "cmaes"}, "study.sampler"),
        ({"prune.criterion": "random"}, "prune.criterion"),
        ({"kd.alpha": 1.5}, "kd.alpha"),
        ({"objectives": "accuracy,speed"}, "objectives"),
        ({"objectives": "fps"}, "objectives"),
        ({"space.prune": "maybe"}, "space.prune"),
        ({"study.folding": "smallest"}, "min-fps"),
        ({"budget": 3}, "budget"),
    ],
)
def test_bad_overrides_name_the_field(overrides, needle):
    with pytest.raises(ConfigError) as exc:
        load_recipe("digits-mlp", overrides=overrides)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_bad_toml_file_names_field(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('dataset = "digits"\n[budget]\ntrials = "ten"\n')
    with pytest.raises(ConfigError, match="budget.trials"):
        load_recipe(p)
    p.write_text("[budget]\ntrails = 10\n")
    with pytest.raises(ConfigError, match="did you mean 'budget.trials'"):
        load_recipe(p)
    p.write_text("[budget\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_recipe(p)


def test_user_recipe_file_and_defaults(tmp_path):
    p = tmp_path / "tiny.toml"
    p.write_text('dataset = "digits"\nmodel = "mlp-digits"\n[budget]\ntrials = 3\n')
    r = load_recipe(p)
    assert r.name == "tiny" and r.budget.trials == 3 and r.budget.epochs == Recipe().budget.epochs


def test_unknown_recipe_lists_choices():
    with pytest.raises(ConfigError, match="digits-mlp"):
        load_recipe("no-such-recipe")


def test_set_options_parse():
    assert parse_set_options(["budget.trials=4", "space.wbits = 2,4"]) == {
        "budget.trials": "4",
        "space.wbits": "2,4",
    }
    with pytest.raises(ConfigError, match="FIELD=VALUE"):
        parse_set_options(["budget.trials"])


def test_dict_round_trip_and_fingerprint():
    r = load_recipe("digits-cnn")
    assert Recipe.from_dict(r.to_dict()) == r
    # budgets do not change the identity of a search; the space does
    assert r.with_overrides({"budget.trials": 99}).fingerprint() == r.fingerprint()
    assert r.with_overrides({"study.sampler": "nsga2"}).fingerprint() == r.fingerprint()
    assert r.with_overrides({"space.wbits": "2,4"}).fingerprint() != r.fingerprint()
    # constraints are stored with each trial: a different limit is a different study
    assert r.with_overrides({"constraints.max_lut": 1000}).fingerprint() != r.fingerprint()
