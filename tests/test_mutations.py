"""scripts/mutations.py stays runnable: each mutation's snippet is once in its file.

(Running the mutations themselves takes minutes; ``python scripts/mutations.py`` does.)
"""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_mutation_names_a_snippet_that_is_once_in_its_file():
    spec = importlib.util.spec_from_file_location("mutations", ROOT / "scripts" / "mutations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert len(module.MUTATIONS) >= 10
    for mutation in module.MUTATIONS:
        text = (ROOT / mutation.path).read_text()
        assert text.count(mutation.old) == 1, mutation.name
        assert mutation.new != mutation.old, mutation.name
        assert (ROOT / mutation.tests[0]).exists(), mutation.name
