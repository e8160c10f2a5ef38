import pytest

from musubi.config.env import ConfigurationError, env_bool, env_int, env_list, env_str


def test_a_secret_can_come_from_a_file(tmp_path, monkeypatch):
    secret = tmp_path / "key"
    secret.write_text("from-the-file\n", encoding="utf-8")
    monkeypatch.setenv("MUSUBI_SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("MUSUBI_SECRET_KEY_FILE", str(secret))
    assert env_str("MUSUBI_SECRET_KEY") == "from-the-file"


def test_an_unreadable_secret_file_names_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("X_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="X_TOKEN_FILE"):
        env_str("X_TOKEN")


@pytest.mark.parametrize(("raw", "value"), [("true", True), ("1", True), ("off", False), ("0", False)])
def test_booleans_read_the_usual_spellings(monkeypatch, raw, value):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", default=not value) is value


def test_an_empty_boolean_means_its_default(monkeypatch):
    monkeypatch.setenv("X_FLAG", "")
    assert env_bool("X_FLAG", default=True) is True


def test_a_bad_boolean_or_integer_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    monkeypatch.setenv("X_PORT", "eighty")
    with pytest.raises(ConfigurationError, match="X_FLAG must be true or false"):
        env_bool("X_FLAG")
    with pytest.raises(ConfigurationError, match="X_PORT must be an integer"):
        env_int("X_PORT", 80)


def test_lists_are_comma_separated(monkeypatch):
    monkeypatch.setenv("X_HOSTS", "a.example, b.example,,")
    assert env_list("X_HOSTS", []) == ["a.example", "b.example"]
    assert env_list("X_UNSET", ["d"]) == ["d"]
