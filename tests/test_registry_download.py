"""Model registry, cache location, download with hash check — all with local fake files."""

import hashlib
import os
import re
from dataclasses import replace

import pytest

from napari_ruac.models import download as dl
from napari_ruac.models import registry
from napari_ruac.models.sam2_build import sam2_config_dir


def test_registry_has_the_four_official_sam21_checkpoints():
    assert set(registry.MODELS) == {
        "sam2.1_hiera_tiny",
        "sam2.1_hiera_small",
        "sam2.1_hiera_base_plus",
        "sam2.1_hiera_large",
    }
    for spec in registry.MODELS.values():
        assert (sam2_config_dir() / spec.config).is_file(), spec.config
        assert spec.url.startswith("https://") and spec.url.endswith(spec.filename)
        assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256)
        assert spec.size_bytes > 100e6
        assert all(m.startswith("https://") for m in spec.mirrors)


def test_aliases_and_unknown_names():
    assert registry.get_spec("tiny").name == "sam2.1_hiera_tiny"
    assert registry.get_spec("sam2.1_hiera_large.pt").name == "sam2.1_hiera_large"
    with pytest.raises(KeyError, match="Known models: sam2.1_hiera_tiny"):
        registry.get_spec("sam3_huge")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NAPARI_RUAC_CACHE", str(tmp_path / "c"))
    assert registry.checkpoint_path("tiny") == tmp_path / "c" / "models" / "sam2.1_hiera_tiny.pt"
    monkeypatch.delenv("NAPARI_RUAC_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert registry.cache_dir() == tmp_path / "xdg" / "napari-ruac"


def _fake_remote(tmp_path, payload=b"weights" * 100_000):
    source = tmp_path / "remote" / "model.pt"
    source.parent.mkdir()
    source.write_bytes(payload)
    return source, hashlib.sha256(payload).hexdigest()


def test_download_reports_progress_verifies_and_is_atomic(tmp_path):
    source, digest = _fake_remote(tmp_path)
    seen = []
    target = dl.download_file(source.as_uri(), tmp_path / "cache" / "m.pt", digest, lambda d, t: seen.append((d, t)))
    assert target.read_bytes() == source.read_bytes()
    assert seen and seen[-1][0] == source.stat().st_size
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_download_with_a_wrong_hash_keeps_nothing(tmp_path):
    source, _ = _fake_remote(tmp_path)
    with pytest.raises(dl.ChecksumError, match="expected"):
        dl.download_file(source.as_uri(), tmp_path / "cache" / "m.pt", "0" * 64)
    assert not any((tmp_path / "cache").iterdir())


def test_download_failure_says_what_to_put_where(tmp_path, monkeypatch):
    monkeypatch.delenv("NAPARI_RUAC_OFFLINE", raising=False)
    spec = replace(registry.MODELS["sam2.1_hiera_tiny"], url=(tmp_path / "nope.pt").as_uri(), mirrors=())
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    with pytest.raises(dl.DownloadError) as info:
        dl.download_model(spec.name)
    message = str(info.value)
    assert str(registry.checkpoint_path(spec.name)) in message and spec.sha256 in message


def test_offline_mode_never_tries_the_network(monkeypatch):
    monkeypatch.setenv("NAPARI_RUAC_OFFLINE", "1")
    with pytest.raises(dl.DownloadError, match="offline"):
        dl.download_model("sam2.1_hiera_small")


def test_download_model_falls_back_to_a_mirror_then_reuses_the_verified_file(tmp_path, monkeypatch):
    monkeypatch.delenv("NAPARI_RUAC_OFFLINE", raising=False)
    source, digest = _fake_remote(tmp_path)
    spec = replace(
        registry.MODELS["sam2.1_hiera_tiny"],
        url=(tmp_path / "missing.pt").as_uri(),
        mirrors=(source.as_uri(),),
        sha256=digest,
    )
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    path = dl.download_model(spec.name)
    assert path == registry.checkpoint_path(spec.name) and path.read_bytes() == source.read_bytes()
    assert spec.name in registry.available_models()
    source.unlink()  # a second call must not download again
    assert dl.download_model(spec.name) == path


def test_a_corrupted_cached_file_is_detected(tmp_path, monkeypatch):
    monkeypatch.delenv("NAPARI_RUAC_OFFLINE", raising=False)
    source, digest = _fake_remote(tmp_path)
    spec = replace(registry.MODELS["sam2.1_hiera_tiny"], url=source.as_uri(), mirrors=(), sha256=digest)
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    path = dl.download_model(spec.name)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1, 1))  # a changed file also changes its stat; the marker no longer matches
    with pytest.raises(dl.ChecksumError, match="corrupt"):
        dl.download_model(spec.name)


@pytest.fixture
def http_server(tmp_path):
    """A local HTTP server on 127.0.0.1 serving tmp_path/remote (the network never leaves the machine)."""
    import functools
    import http.server
    import threading

    (tmp_path / "remote").mkdir(exist_ok=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "remote"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_download_over_http_through_pooch_with_progress_and_retries(tmp_path, monkeypatch, http_server):
    monkeypatch.delenv("NAPARI_RUAC_OFFLINE", raising=False)
    monkeypatch.setenv("NAPARI_RUAC_CACHE", str(tmp_path / "user-cache"))  # the folder the variable names
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # pooch waits between retries
    payload = b"weights" * 200_000
    (tmp_path / "remote" / "model.pt").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    spec = replace(registry.MODELS["sam2.1_hiera_tiny"], url=f"{http_server}/model.pt", mirrors=(), sha256=digest)
    monkeypatch.setitem(registry.MODELS, spec.name, spec)
    seen = []
    path = dl.download_model(spec.name, progress=lambda done, total: seen.append((done, total)))
    assert path.read_bytes() == payload and path.parent == tmp_path / "user-cache" / "models"
    assert seen[-1] == (len(payload), len(payload))  # the bar knows the size and reaches it
    assert [p.name for p in path.parent.iterdir() if "tmp" in p.name] == []

    (tmp_path / "remote" / "bad.pt").write_bytes(b"not the weights")
    attempts = []
    real = dl._downloader

    def counting(progress, timeout):
        fetch = real(progress, timeout)
        return lambda url, out, pooch_object=None: (attempts.append(url), fetch(url, out, pooch_object))[1]

    monkeypatch.setattr(dl, "_downloader", counting)
    with pytest.raises(dl.ChecksumError, match="does not have the expected sha256"):
        dl.download_file(f"{http_server}/bad.pt", tmp_path / "cache2" / "m.pt", digest)
    assert len(attempts) == 1 + dl.RETRIES and not (tmp_path / "cache2" / "m.pt").exists()
    with pytest.raises(dl.DownloadError, match="404"):
        dl.download_file(f"{http_server}/absent.pt", tmp_path / "cache3" / "m.pt", digest, retries=0)
