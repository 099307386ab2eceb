"""lm_backend.py: a minimal PEP 517 build backend (standard library only).

Builds the pure-Python wheel of loopmaid_asyncio (and an sdist) without
setuptools or wheel, which are not always installed and cannot be fetched
offline. Only what pip needs: build_wheel, build_sdist, build_editable and
their metadata hooks. The version and name are read from pyproject.toml's
[project] table (tomllib, 3.11+).
"""

import base64
import hashlib
import io
import os
import tarfile
import tomllib
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PKG = 'loopmaid_asyncio'


def _project():
    with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
        return tomllib.load(f)['project']


def _dist():
    p = _project()
    return p['name'].replace('-', '_'), p['version'], p


def _metadata():
    name, version, p = _dist()
    return ('Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: %s\n'
            'Requires-Python: %s\n' % (p['name'], version, p.get('description', ''),
                                       p.get('requires-python', '>=3.11')))


def _files():
    base = os.path.join(ROOT, PKG)
    for fn in sorted(os.listdir(base)):
        if fn.endswith('.py'):
            yield '%s/%s' % (PKG, fn), os.path.join(base, fn)


def _record_line(arc, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()
    return '%s,sha256=%s,%d' % (arc, digest, len(data))


def _write_wheel(wheel_directory, entries):
    name, version, _ = _dist()
    distinfo = '%s-%s.dist-info' % (name, version)
    fname = '%s-%s-py3-none-any.whl' % (name, version)
    entries = list(entries) + [
        ('%s/METADATA' % distinfo, _metadata().encode()),
        ('%s/WHEEL' % distinfo, b'Wheel-Version: 1.0\nGenerator: lm_backend\n'
                                b'Root-Is-Purelib: true\nTag: py3-none-any\n'),
    ]
    record = [_record_line(a, d) for a, d in entries] + ['%s/RECORD,,' % distinfo]
    entries.append(('%s/RECORD' % distinfo, ('\n'.join(record) + '\n').encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, fname), 'w', zipfile.ZIP_DEFLATED) as z:
        for arc, data in entries:
            z.writestr(zipfile.ZipInfo(arc, (2020, 1, 1, 0, 0, 0)), data)
    return fname


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    entries = []
    for arc, path in _files():
        with open(path, 'rb') as f:
            entries.append((arc, f.read()))
    return _write_wheel(wheel_directory, entries)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name, _, _ = _dist()
    return _write_wheel(wheel_directory, [('%s.pth' % name, (ROOT + '\n').encode())])


def build_sdist(sdist_directory, config_settings=None):
    name, version, _ = _dist()
    base = '%s-%s' % (name, version)
    fname = base + '.tar.gz'
    with tarfile.open(os.path.join(sdist_directory, fname), 'w:gz') as t:
        paths = [('pyproject.toml', os.path.join(ROOT, 'pyproject.toml')),
                 ('_build/lm_backend.py', os.path.abspath(__file__))] + list(_files())
        for arc, path in paths:
            t.add(path, arcname='%s/%s' % (base, arc))
        data = _metadata().encode()
        info = tarfile.TarInfo('%s/PKG-INFO' % base)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return fname


def _prepare(metadata_directory):
    name, version, _ = _dist()
    d = os.path.join(metadata_directory, '%s-%s.dist-info' % (name, version))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'METADATA'), 'w') as f:
        f.write(_metadata())
    return os.path.basename(d)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    return _prepare(metadata_directory)


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    return _prepare(metadata_directory)


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []
