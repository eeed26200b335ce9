"""What `bench/gpu_session.sh embed` needs on a GPU machine that has no network and no longlens packages:
the packaged MiniLM saved in fp16 (45 MB, under the device tool's 64 MiB carry limit) and the texts to embed.

    .venv/bin/python bench/gpu_assets.py      # writes .gpu/minilm and .gpu/texts.json (git-ignored)

Then name `.gpu` in the device tool's `carry`. The fp32 rows on the GPU read these fp16 weights widened to
fp32: the precisions are compared on the same weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_backends import sample_texts  # noqa: E402

ROOT = Path(__file__).resolve().parents[1] / ".gpu"


def main() -> None:
    from sentence_transformers import SentenceTransformer

    from longlens.models.embedder import DEFAULT_EMBEDDER, resolve_embedder_path

    st = SentenceTransformer(resolve_embedder_path(DEFAULT_EMBEDDER), device="cpu", local_files_only=True)
    st.half().save(str(ROOT / "minilm"), safe_serialization=True)
    (ROOT / "texts.json").write_text(json.dumps(sample_texts(4000)))
    size = sum(f.stat().st_size for f in ROOT.rglob("*") if f.is_file())
    print(f"wrote {ROOT} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
