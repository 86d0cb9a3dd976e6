"""Models-from-code entry of the logged pyfunc model: MLflow runs this file to load the model.

Logging a file instead of a pickled ``PythonModel`` object keeps the class out of cloudpickle
(MLflow warns about that) and ties loading to the ``automl_nas`` code logged with the model.
"""

from mlflow.models import set_model

from automl_nas.tracking._pyfunc import AutoNASPythonModel

set_model(AutoNASPythonModel())
