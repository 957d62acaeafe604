// The official VQA accuracy metric (GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation/
// vqaEval.py) with its answer normalisation, reproduced step for step.
#pragma once

#include <string>
#include <vector>

namespace sightline {

// vqaEval.processPunctuation: each of ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? ! is deleted
// when it touches a space in the input (or the input holds a digit,comma,digit group) and
// replaced by a space otherwise; then every '.' not followed by a digit is deleted (at
// most 32 of them: the official code passes re.UNICODE, 32, as re.sub's count).
std::string vqa_process_punctuation(const std::string& text);

// vqaEval.processDigitArticle: lower-case, split on whitespace, number words none/zero..ten
// -> digits, drop the articles a/an/the, expand the contractions table ("dont" -> "don't"),
// join with single spaces.
std::string vqa_process_digit_article(const std::string& text);

// A predicted answer as the official evaluate() normalises it: newlines and tabs become
// spaces, surrounding whitespace is stripped, then processPunctuation and
// processDigitArticle.
std::string vqa_normalize_answer(const std::string& answer);

// Official VQA accuracy of one predicted answer against the ground-truth answers (10 in
// VQAv2): the mean over each ground-truth answer g of min(1, #(other answers equal to the
// prediction) / 3), so 3 matches of 10 give 0.9 and 4 or more give 1.0. As the official
// code, the prediction is fully normalised (vqa_normalize_answer) while the ground-truth
// answers only get processPunctuation, and only when they are not all identical.
// With normalize_ground_truth = true every ground-truth answer gets the full
// normalisation instead (as LLaVA/lmms-eval's EvalAI processor does), which only matters
// for un-normalised ground truth such as "Two". Returns 0 for an empty ground truth.
double vqa_accuracy(const std::string& prediction, const std::vector<std::string>& ground_truth,
                    bool normalize_ground_truth = false);

}  // namespace sightline
