"""The parsed dbt manifest, loaded once per process, stays out of the garbage collector's scans."""

CODE = """
import gc
from orchestration.dbt_runner import parsed_manifest

manifest = parsed_manifest()
node = next(iter(manifest.nodes.values()))
tracked = gc.get_objects()  # every object the collector scans (frozen objects are not among them)
print(any(o is manifest for o in tracked), any(o is node for o in tracked), len(manifest.nodes))
assert parsed_manifest() is manifest
"""


def test_the_manifest_is_frozen_out_of_garbage_collection(fresh_python):
    # a fresh interpreter: this test session may have loaded the manifest already
    result = fresh_python(CODE)
    assert result.returncode == 0, result.stderr
    manifest_tracked, node_tracked, nodes = result.stdout.split()
    assert int(nodes) > 100  # the real project: models, tests, unit tests
    assert (manifest_tracked, node_tracked) == ("False", "False")
