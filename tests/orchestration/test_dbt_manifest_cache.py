"""The parsed dbt manifest, loaded once per process, stays out of the garbage collector's scans."""

import subprocess
import sys

CODE = """
import gc
from orchestration.dbt_runner import parsed_manifest

manifest = parsed_manifest()
node = next(iter(manifest.nodes.values()))
tracked = gc.get_objects()  # every object the collector scans (frozen objects are not among them)
print(any(o is manifest for o in tracked), any(o is node for o in tracked), len(manifest.nodes))
assert parsed_manifest() is manifest
"""


def test_the_manifest_is_frozen_out_of_garbage_collection():
    # a fresh interpreter: this test session may have loaded the manifest already
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
    manifest_tracked, node_tracked, nodes = out.split()
    assert int(nodes) > 100  # the real project: models, tests, unit tests
    assert (manifest_tracked, node_tracked) == ("False", "False")
