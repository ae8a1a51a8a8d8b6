"""The paper's studies: Table 4 ablations and the Fig. 3 sweeps, resumable.

Each study trains one run folder per configuration (same data and seeds),
skips finished points when rerun, and writes its table or figure.

Example:

```python
from glomo_keras import GLoMoConfig
from glomo_keras.studies import ablation_study

ablation_study(GLoMoConfig.for_dataset("mosi"), "datasets/mosi.pkl", "studies/mosi",
               seeds=[1111, 1112, 1113])
```
"""

from glomo_keras.studies.paper_studies import ablation_study
from glomo_keras.studies.paper_studies import experts_study
from glomo_keras.studies.paper_studies import windows_study
from glomo_keras.studies.points import ABLATIONS
from glomo_keras.studies.points import StudyPoint
from glomo_keras.studies.runner import StudyMismatchError
from glomo_keras.studies.runner import run_study

__all__ = [
    "ABLATIONS",
    "StudyMismatchError",
    "StudyPoint",
    "ablation_study",
    "experts_study",
    "run_study",
    "windows_study",
]
