"""纠正分类: the news center corrects a post's topics or sentiment; training learns from it."""
