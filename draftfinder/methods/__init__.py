"""Every kind of draft: the method registry (``registry``), published heads (``heads``), built-in MTP layers
(``mtp``), Hub discovery of heads naming a target (``discovery``), model-free drafting with its expected speedup
(``model_free``), and the offers ``find`` lists beside the draft models (``offers``)."""
