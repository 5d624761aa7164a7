"""Topic and sentiment classification of posts (jieba + scikit-learn).

`classifier.model.Classifier` loads a trained model and classifies posts;
`classifier.train.train()` builds one from the bundled corpus (see DATA.md).
"""
